"""Rebuild Customer.search_text with the version 2 token rules (keys.KEYS_VERSION): initials of syllable
pairs, every phone suffix of 4+ digits, national numbers with the trunk prefix.

Derived data only; streamed in chunks so that it runs on a million rows without holding them in memory.

Superseded: migration 0011 rebuilds every customer's token bags with the version 3 rules (keys.py), so this
rebuild no longer runs (it called the token rules of its time, which have changed since).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_choice_labels")]
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True)]
