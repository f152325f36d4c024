"""Rebuild Customer.search_text with the version 2 token rules (keys.KEYS_VERSION): initials of syllable
pairs, every phone suffix of 4+ digits, national numbers with the trunk prefix.

Derived data only; streamed in chunks so that it runs on a million rows without holding them in memory.
"""

from django.db import migrations

CHUNK = 5000


def rebuild(apps, schema_editor):
    from kehu.customers import keys

    Customer = apps.get_model("customers", "Customer")
    CustomerPhone = apps.get_model("customers", "CustomerPhone")
    CustomerEmail = apps.get_model("customers", "CustomerEmail")
    connection = schema_editor.connection
    table = Customer._meta.db_table
    last = 0
    while True:
        rows = list(
            Customer.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "name", "alias", "phone", "email", "tax_id")[:CHUNK]
        )
        if not rows:
            break
        last = rows[-1][0]
        ids = [r[0] for r in rows]
        phones: dict[int, set] = {}
        emails: dict[int, set] = {}
        for cid, number in CustomerPhone.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "number"
        ):
            phones.setdefault(cid, set()).add(number)
        for cid, email in CustomerEmail.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "email"
        ):
            emails.setdefault(cid, set()).add(email)
        values = []
        for pk, name, alias, phone, email, tax_id in rows:
            text = keys.build_search_text(
                name=name,
                alias=alias,
                phones=sorted(phones.get(pk, set()) | ({phone} if phone else set())),
                emails=sorted(emails.get(pk, set()) | ({email} if email else set())),
                extra=[tax_id],
            )
            values.append((text, pk))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                placeholders = ", ".join(["(%s, %s)"] * len(values))
                cursor.execute(
                    f"UPDATE {table} AS c SET search_text = v.t FROM (VALUES {placeholders}) AS v(t, id) "  # noqa: S608
                    "WHERE c.id = v.id AND c.search_text IS DISTINCT FROM v.t",
                    [x for pair in values for x in pair],
                )
            else:
                cursor.executemany(f"UPDATE {table} SET search_text = %s WHERE id = %s", values)  # noqa: S608


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("customers", "0003_choice_labels")]
    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop, elidable=True)]
