"""The audit trail is append-only at the database level: triggers refuse UPDATE and DELETE (and TRUNCATE)."""

from django.db import migrations

from kehu.core import dbguards


def forwards(apps, schema_editor):
    dbguards.install(schema_editor.connection)


def backwards(apps, schema_editor):
    dbguards.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
