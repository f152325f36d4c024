"""Campaigns on the engine and the records the code before it left waiting (ADR 0018 addendum).

- two approver kinds: the requester's department head, the campaign approver (four eyes);
- the default campaign chain: one step, anyone who may change the campaign but its owner;
- every quote, contract, expense or campaign "awaiting approval" without a pending request gets one (the
  records are found with the historical models; only when there are some, the live engine starts their
  requests — on a new database there are none)."""

from django.db import migrations, models

DEFAULTS = [
    (
        "campaign-approval",
        "营销活动审批 Campaign approval",
        "marketing.campaign",
        "campaign_approver",
        "双人复核 Four eyes",
    ),
]
AWAITING = [
    ("sales", "Quote", "sales.quote", {"status": "pending"}),
    ("sales", "Contract", "sales.contract", {"status": "pending"}),
    ("salesmgmt", "Expense", "salesmgmt.expense", {"status": "submitted"}),
    ("marketing", "Campaign", "marketing.campaign", {"status": "pending_approval"}),
]


def forward(apps, schema_editor):
    Chain = apps.get_model("approvals", "ApprovalChain")
    Step = apps.get_model("approvals", "ApprovalStep")
    Request = apps.get_model("approvals", "ApprovalRequest")
    for code, name, model, kind, step_name in DEFAULTS:
        chain, created = Chain.objects.get_or_create(
            code=code, defaults={"name": name, "model": model, "priority": 1000}
        )
        if created:
            Step.objects.create(chain=chain, position=1, name=step_name, approver_kind=kind, mode="any")
    orphans = []
    for app, name, label, awaiting in AWAITING:
        pending = set(
            Request.objects.filter(model=label, status="pending").values_list("object_id", flat=True)
        )
        ids = {str(pk) for pk in apps.get_model(app, name).objects.filter(**awaiting).values_list("pk", flat=True)}
        if ids - pending:
            orphans.append(label)
    if orphans:
        from kehu.approvals.services import adopt_awaiting

        adopt_awaiting(orphans)


def backward(apps, schema_editor):
    apps.get_model("approvals", "ApprovalChain").objects.filter(code__in=[d[0] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0002_default_chains"),
        ("sales", "0004_salesperf_overdue"),
        ("salesmgmt", "0004_expenses"),
        ("marketing", "0003_promotions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="approvalstep",
            name="approver_kind",
            field=models.CharField(
                choices=[
                    ("user", "A user"),
                    ("role", "The users of a role"),
                    ("manager", "The requester's manager"),
                    ("department_head", "The head of a department"),
                    (
                        "requester_dept_head",
                        "The head of the requester's department (below the chosen department, else top level)",
                    ),
                    ("discount_approver", "The requester's discount approver (role of their limit, else manager)"),
                    ("campaign_approver", "Who may change the campaign, other than its owner (four eyes)"),
                ],
                max_length=20,
                verbose_name="approver",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
