# The overdue receivables per rep or customer read index-only, and the deals won in a period found by their
# closing date (issue #16/#17 benchmarks, salesperf).

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0013_search_restricted'),
        ('sales', '0003_salesperf'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='opportunity',
            index=models.Index(condition=models.Q(('status', 'won')), fields=['closed_at'], name='ix_opp_won_closed'),
        ),
        migrations.AddIndex(
            model_name='contract',
            index=models.Index(condition=models.Q(('receivable_outstanding__gt', 0)), fields=['owner', 'receivable_due_from'], include=('id', 'customer', 'currency', 'receivable_outstanding'), name='ix_contract_overdue'),
        ),
    ]
