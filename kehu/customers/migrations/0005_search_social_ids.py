"""Social ids (WeChat, QQ, ...) became part of Customer.search_text: rebuild it for the customers that have
one. Derived data only; usually few rows, streamed in chunks all the same.

Superseded: migration 0011 rebuilds every customer's token bags with the version 3 rules (keys.py), so this
rebuild no longer runs (it called the token rules of its time, which have changed since).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_search_keys_v2")]
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True)]
