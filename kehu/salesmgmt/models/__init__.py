"""Models of the salesmgmt app, one module per area, all imported here."""

from .expenses import (  # noqa: F401
    Expense,
    ExpenseCategory,
    ExpensePeriodClose,
    ExpenseReceipt,
    ExpenseStatus,
)
from .forecast import (  # noqa: F401
    ForecastAdjustment,
    ForecastCategory,
    ForecastEntry,
    ForecastSnapshot,
    TeamForecastAdjustment,
)
from .plans import (  # noqa: F401
    ActualsSource,
    PeriodKind,
    PlanLevel,
    PlanStatus,
    PlanTarget,
    SalesPlan,
)
from .visits import CustomerLocation, Visit, VisitNote, VisitPhoto, VisitStatus  # noqa: F401
