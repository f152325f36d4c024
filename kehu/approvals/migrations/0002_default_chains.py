"""The default chains: what the approvals did before the engine (ADR 0018), now visible and editable.

- quotes and contracts: one step, the requester's discount approver (the approver role of their discount
  limit, else their manager), any one of them;
- expenses: one step, the requester's manager (their own chain: no longer the rep's discount approver,
  issue #17).
The engine applies the same route when no chain matches, so removing these changes nothing until an
administrator adds other chains."""

from django.db import migrations

DEFAULTS = [
    ("quote-discount", "报价折扣审批 Quote discount", "sales.quote", "discount_approver", "折扣审批人 Discount approver"),
    ("contract-approval", "合同审批 Contract approval", "sales.contract", "discount_approver", "审批人 Approver"),
    ("expense-approval", "费用报销审批 Expense approval", "salesmgmt.expense", "manager", "直属经理 Manager"),
]


def create(apps, schema_editor):
    Chain = apps.get_model("approvals", "ApprovalChain")
    Step = apps.get_model("approvals", "ApprovalStep")
    for code, name, model, kind, step_name in DEFAULTS:
        chain, created = Chain.objects.get_or_create(
            code=code, defaults={"name": name, "model": model, "priority": 1000}
        )
        if created:
            Step.objects.create(chain=chain, position=1, name=step_name, approver_kind=kind, mode="any")


def remove(apps, schema_editor):
    apps.get_model("approvals", "ApprovalChain").objects.filter(code__in=[d[0] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
