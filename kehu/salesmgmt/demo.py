"""Demo sales-management data (called by seed_demo after the sales app): this year's company plan allocated
to the regions, their teams and reps (in proportion to last year's won deals where there are any), and today's
visits of every rep with customer coordinates around their region, some already checked in and noted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from kehu.customers.models import Customer

from .models import CustomerLocation, PlanLevel, PlanTarget, SalesPlan
from .services import plans, visits

CENTRES = {
    "north": (Decimal("39.9042"), Decimal("116.4074")),
    "east": (Decimal("31.2304"), Decimal("121.4737")),
}


def _allocate(parent: PlanTarget, by, rng) -> None:
    nodes = plans.child_candidates(parent)
    if parent.level == PlanLevel.COMPANY:  # the sales regions: departments whose teams have reps
        nodes = [n for n in nodes if n.obj.teams.filter(members__roles__code="sales_rep").exists()]
    elif parent.level == PlanLevel.DEPARTMENT:
        nodes = [
            n
            for n in nodes
            if n.level == PlanLevel.TEAM and n.obj.members.filter(roles__code="sales_rep").exists()
        ]
    else:
        nodes = [n for n in nodes if n.obj.roles.filter(code="sales_rep").exists()]
    if not nodes:
        return
    plan = SalesPlan.objects.get(pk=parent.plan_id)
    try:
        made = plans.allocate(
            parent=parent, method="proportional", children=nodes, by=by, expected_version=plan.version
        )
    except ValidationError:
        plan.refresh_from_db()
        made = plans.allocate(
            parent=parent, method="even", children=nodes, by=by, expected_version=plan.version
        )
    for target in made:
        if target.level != PlanLevel.REP:
            _allocate(target, by, rng)


def seed(ctx) -> str:
    rng = ctx["rng"]
    users = ctx["org"].users
    manager = users["manager"]
    today = timezone.localdate()
    plan = plans.plan_create(
        data={"name": f"{today.year} 年度销售计划 Annual plan", "year": today.year}, by=manager
    )
    company = plans.plan_company_set(
        plan=plan, product_line=None, amount=Decimal("12000000"), units=Decimal("0"), by=manager,
        expected_version=plan.version,
    )  # fmt: skip
    _allocate(company, manager, rng)
    plan.refresh_from_db()
    plans.plan_set_status(plan=plan, status="active", by=manager, expected_version=plan.version)
    n_visits = 0
    tz = timezone.get_current_timezone()
    for username, region in (("rep1", "north"), ("rep2", "north"), ("rep3", "east"), ("rep4", "east")):
        rep = users.get(username)
        if rep is None:
            continue
        centre = CENTRES[region]
        for i, customer in enumerate(Customer.objects.filter(owner=rep).order_by("id")[:3]):
            lat = centre[0] + Decimal(rng.uniform(-0.08, 0.08)).quantize(Decimal("0.000001"))
            lon = centre[1] + Decimal(rng.uniform(-0.08, 0.08)).quantize(Decimal("0.000001"))
            CustomerLocation.objects.update_or_create(
                customer=customer, defaults={"latitude": lat, "longitude": lon}
            )
            start = dt.datetime.combine(today, dt.time(9 + 2 * i, 30), tzinfo=tz)
            visit = visits.visit_plan(
                data={"customer": customer, "subject": "客户拜访 Customer visit", "planned_start": start},
                by=rep,
            )
            n_visits += 1
            if i == 0 and start < timezone.now():
                visits.visit_check_in(visit=visit, latitude=lat + Decimal("0.0012"), longitude=lon, accuracy="15",
                                      at=start + dt.timedelta(minutes=3), by=rep)  # fmt: skip
                visits.visit_note_add(visit=visit, text="客户关心交期和售后 Delivery time and service matter",
                                      written_at=start + dt.timedelta(minutes=20), by=rep)  # fmt: skip
    return f"1 sales plan, {PlanTarget.objects.filter(plan=plan).count()} targets, {n_visits} visits"


# expenses (ADR 0016): seeded after the plans and visits, by kehu/salesmgmt/demo_expenses.py
_seed_plans_and_visits = seed


def seed(ctx) -> str:  # noqa: F811 - extends the seed above
    from .demo_expenses import seed as seed_expenses

    return f"{_seed_plans_and_visits(ctx)}, {seed_expenses(ctx)}"
