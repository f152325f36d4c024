"""The scoring run's per-customer rows point at their run (and snapshot rows at their cycle) without a
database foreign key (ADR 0011, "Scoring addendum"): every row of a run points at that run, and the per-row
existence checks at commit were most of the write-back's time. Django keeps on_delete (SET_NULL, CASCADE) for
deletions through the ORM; the run's own index on `run_id` goes too (nothing looks rows up by run), so an
update that keeps a customer's segment can stay on its page (HOT)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0007_anperf"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customerscore",
            name="run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="analytics.scoringrun",
            ),
        ),
        migrations.AlterField(
            model_name="customervalue",
            name="run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="analytics.scoringrun",
            ),
        ),
        migrations.AlterField(
            model_name="valuesnapshot",
            name="cycle",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="snapshot",
                to="analytics.valuecycle",
            ),
        ),
        # ix_score_segment (segment, customer) serves segment lookups: the plain and LIKE indexes go, and the
        # value table keeps one plain index — fewer indexes for the run to maintain on 600,000 rows
        migrations.AlterField(
            model_name="customerscore",
            name="segment",
            field=models.CharField(
                choices=[
                    ("champions", "Champions"),
                    ("loyal", "Loyal"),
                    ("potential_loyalist", "Potential loyalist"),
                    ("new", "New customer"),
                    ("promising", "Promising"),
                    ("need_attention", "Need attention"),
                    ("about_to_sleep", "About to sleep"),
                    ("at_risk", "At risk"),
                    ("cant_lose", "Can't lose"),
                    ("hibernating", "Hibernating"),
                    ("lost", "Lost"),
                ],
                max_length=20,
                verbose_name="RFM segment",
            ),
        ),
        migrations.AlterField(
            model_name="customervalue",
            name="segment",
            field=models.CharField(
                choices=[
                    ("top", "Most valuable"),
                    ("core", "Core"),
                    ("standard", "Standard"),
                    ("below_zero", "Below zero"),
                ],
                max_length=12,
                verbose_name="value segment",
            ),
        ),
        migrations.AddIndex(
            model_name="customervalue",
            index=models.Index(fields=["segment"], name="ix_value_segment"),
        ),
    ]
