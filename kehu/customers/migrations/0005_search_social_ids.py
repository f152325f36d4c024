"""Social ids (WeChat, QQ, ...) became part of Customer.search_text: rebuild it for the customers that have
one. Derived data only; usually few rows, streamed in chunks all the same."""

from django.db import migrations

CHUNK = 2000


def rebuild(apps, schema_editor):
    from kehu.customers import keys

    Customer = apps.get_model("customers", "Customer")
    SocialIdentity = apps.get_model("customers", "SocialIdentity")
    ids = sorted(set(SocialIdentity.objects.values_list("customer_id", flat=True)))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        related: dict[str, dict[int, set]] = {"phones": {}, "emails": {}, "handles": {}}
        for cid, number in apps.get_model("customers", "CustomerPhone").objects.filter(
            customer_id__in=chunk
        ).values_list("customer_id", "number"):
            related["phones"].setdefault(cid, set()).add(number)
        for cid, email in apps.get_model("customers", "CustomerEmail").objects.filter(
            customer_id__in=chunk
        ).values_list("customer_id", "email"):
            related["emails"].setdefault(cid, set()).add(email)
        for cid, handle in SocialIdentity.objects.filter(customer_id__in=chunk).values_list(
            "customer_id", "handle"
        ):
            related["handles"].setdefault(cid, set()).add(handle)
        for pk, name, alias, phone, email, tax_id in Customer.objects.filter(pk__in=chunk).values_list(
            "pk", "name", "alias", "phone", "email", "tax_id"
        ):
            text = keys.build_search_text(
                name=name,
                alias=alias,
                phones=sorted(related["phones"].get(pk, set()) | ({phone} if phone else set())),
                emails=sorted(related["emails"].get(pk, set()) | ({email} if email else set())),
                extra=[tax_id, *sorted(related["handles"].get(pk, set()))],
            )
            Customer.objects.filter(pk=pk).update(search_text=text)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("customers", "0004_search_keys_v2")]
    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop, elidable=True)]
