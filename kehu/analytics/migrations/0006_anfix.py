"""A KPI's roll-up rule for entered values, and one CRM initiative model (ADR 0011 §anfix): NBA's CrmInitiative (one expected effect E and cost C) becomes a
scorecard Initiative with its practice stage and status and one cash flow in its first period (cost = C,
benefit = E), so its benefit index (E − C)/C stays what it was; grants on analytics.crminitiative carry over to
analytics.initiative for roles that had none there."""

import datetime as dt

from django.db import migrations, models

ACTIONS = ("view", "add", "change", "delete", "import", "export", "transfer")


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def carry_over(apps, schema_editor):
    CrmInitiative = apps.get_model("analytics", "CrmInitiative")
    Initiative = apps.get_model("analytics", "Initiative")
    CashFlow = apps.get_model("analytics", "InitiativeCashFlow")
    ModelGrant = apps.get_model("core", "ModelGrant")
    FieldGrant = apps.get_model("core", "FieldGrant")
    for old in CrmInitiative.objects.order_by("pk"):
        day = old.starts_on or old.created_at.date()
        new = Initiative.objects.create(
            name=old.name,
            stage=old.stage,
            status=old.status,
            description=old.notes,
            responsible_id=old.owner_id,
            start=_quarter_start(day),
            period_type="quarter",
            periods=1,
            source="entered",
        )
        CashFlow.objects.create(
            initiative=new,
            period_index=0,
            outflow=old.expected_cost,
            inflow=old.expected_benefit,
            note="E / C",
        )
    for grant in ModelGrant.objects.filter(model="analytics.crminitiative"):
        target, created = ModelGrant.objects.get_or_create(
            role_id=grant.role_id,
            model="analytics.initiative",
            defaults={f"can_{a}": getattr(grant, f"can_{a}") for a in ACTIONS},
        )
        if not created:  # the union of the two grants' rights
            for a in ACTIONS:
                if getattr(grant, f"can_{a}"):
                    setattr(target, f"can_{a}", True)
            target.save()
    ModelGrant.objects.filter(model="analytics.crminitiative").delete()
    FieldGrant.objects.filter(model="analytics.crminitiative").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_scorecard"),
    ]

    operations = [
        # a KPI's roll-up of entered values (sum, average, last; "" = by unit)
        migrations.AddField(
            model_name="kpi",
            name="rollup",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "By unit: sum of money, counts and hours; average of percentages and numbers"),
                    ("sum", "Sum of the periods"),
                    ("average", "Average of the periods"),
                    ("last", "Value of the last period"),
                ],
                default="",
                help_text="A quarter or a year without an entered value of its own takes the entered months "
                "(quarters) this way.",
                max_length=8,
                verbose_name="roll-up of entered values",
            ),
        ),
        migrations.AddField(
            model_name="initiative",
            name="stage",
            field=models.CharField(
                choices=[
                    ("resources", "Evaluate and optimise resources"),
                    ("segmentation", "Segment customers"),
                    ("strategy", "Design relationship strategies"),
                    ("execution", "Execute strategies"),
                    ("evaluation", "Evaluate the practice"),
                ],
                default="execution",
                max_length=14,
                verbose_name="practice stage",
            ),
        ),
        migrations.AddField(
            model_name="initiative",
            name="status",
            field=models.CharField(
                choices=[
                    ("proposed", "Proposed"),
                    ("approved", "Approved"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("dropped", "Dropped"),
                ],
                default="proposed",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.DeleteModel(name="CrmInitiative"),
    ]
