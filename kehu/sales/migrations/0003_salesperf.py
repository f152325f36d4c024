# Contracts keep their outstanding receivable and first unpaid due date (the receivables page, issue #16).

from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0013_search_restricted'),
        ('sales', '0002_salesdocs'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='contract',
            name='receivable_due_from',
            field=models.DateField(blank=True, editable=False, null=True, verbose_name='first unpaid due date'),
        ),
        migrations.AddField(
            model_name='contract',
            name='receivable_outstanding',
            field=models.DecimalField(decimal_places=2, default=Decimal('0'), editable=False, max_digits=16, verbose_name='outstanding'),
        ),
        # the derived figures of existing contracts, from their unpaid instalments (as
        # services.receivables.contract_receivables_refresh computes them)
        migrations.RunSQL(
            """
            UPDATE sales_contract SET
                receivable_outstanding = COALESCE((
                    SELECT SUM(i.amount - i.paid_amount) FROM sales_instalment i
                    WHERE i.contract_id = sales_contract.id AND i.status IN ('open', 'partly')
                ), 0),
                receivable_due_from = (
                    SELECT MIN(i.due_date) FROM sales_instalment i
                    WHERE i.contract_id = sales_contract.id AND i.status IN ('open', 'partly')
                )
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name='contract',
            index=models.Index(condition=models.Q(('receivable_outstanding__gt', 0)), fields=['owner', 'customer', 'currency'], include=('receivable_outstanding', 'receivable_due_from'), name='ix_contract_receivable'),
        ),
    ]
