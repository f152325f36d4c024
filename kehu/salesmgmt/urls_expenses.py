"""URLs of the expense and performance pages (ADR 0016), appended to the app's urls."""

from django.urls import path

from . import views_expenses as ve
from . import views_performance as vp

urlpatterns = [
    path("expenses/", ve.expense_list, name="expenses"),
    path("expenses/new/", ve.expense_new, name="expense_create"),
    path("expenses/approvals/", ve.expense_approvals, name="expense_approvals"),
    path("expenses/months/", ve.expense_months, name="expense_months"),
    path("expenses/months/<int:pk>/reopen/", ve.expense_month_reopen, name="expense_month_reopen"),
    path("expenses/<int:pk>/", ve.expense_detail, name="expense"),
    path("expenses/<int:pk>/edit/", ve.expense_edit, name="expense_edit"),
    path("expenses/<int:pk>/submit/", ve.expense_submit, name="expense_submit"),
    path("expenses/<int:pk>/decide/", ve.expense_decide, name="expense_decide"),
    path("expenses/<int:pk>/delete/", ve.expense_delete, name="expense_delete"),
    path("expenses/<int:pk>/receipts/", ve.receipt_add, name="receipt_add"),
    path("expenses/receipts/<int:pk>/", ve.receipt_download, name="receipt_download"),
    path("performance/", vp.performance, name="performance"),
]
