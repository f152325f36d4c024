"""Every value a field can hold survives a merge and its undo — generated from the models' fields and the
custom-field types, so a field or type added later is covered (or makes these tests fail until it is);
and a survivor never ends up with two primary phones, emails or addresses."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest
from django.apps import apps
from django.db import models

from kehu.core.fieldvalues import from_json, to_json
from kehu.core.models import CustomField, CustomFieldType, Scope
from kehu.customers import services
from kehu.customers.merge import (
    CUSTOM_PREFIX,
    MERGEABLE_FIELDS,
    NOT_CHOSEN,
    RESTORED_FIELDS,
    _customer_fks,
    customer_merge,
    customer_merge_undo,
)
from kehu.customers.models import Customer, CustomerAddress, CustomerEmail, CustomerPhone, Kind

pytestmark = pytest.mark.django_db
ALL = ("view", "add", "change", "delete", "export", "transfer")
TZ = dt.timezone(dt.timedelta(hours=8))


def samples(field: models.Field, users=()) -> tuple:
    """Two different valid values for `field`, by its type. An unknown type fails: add it here (and make sure
    kehu.core.fieldvalues round-trips it)."""
    if field.choices:
        values = [getattr(v, "value", v) for v, _label in field.flatchoices if v not in ("", None)]
        return values[0], values[-1]
    if isinstance(field, models.ForeignKey):
        if field.related_model._meta.label_lower == "core.user" and len(users) >= 2:
            return users[0].pk, users[1].pk
        return 7, 11
    if isinstance(field, models.JSONField):
        return {"a": [1, "二", None, True]}, {"b": {"c": 1.5}}
    if isinstance(field, models.BooleanField):
        return True, False
    if isinstance(field, models.DateTimeField):
        return (
            dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=TZ),
            dt.datetime(1899, 12, 31, 0, 0, 1, tzinfo=dt.UTC),
        )
    if isinstance(field, models.DateField):
        return dt.date(1988, 2, 29), dt.date(1900, 1, 1)
    if isinstance(field, models.TimeField):
        return dt.time(23, 59, 59, 999999), dt.time(0, 0)
    if isinstance(field, models.DurationField):
        return dt.timedelta(days=3, microseconds=7), dt.timedelta(seconds=-1)
    if isinstance(field, models.DecimalField):
        places = field.decimal_places or 0
        return (
            decimal.Decimal("1" * (field.max_digits - places) + ("." + "3" * places if places else "")),
            decimal.Decimal("-0." + "0" * (places - 1) + "1") if places else decimal.Decimal("-1"),
        )
    if isinstance(field, models.UUIDField):
        return uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID(int=1)
    if isinstance(field, models.FloatField):
        return 0.1, -2.5e-7
    if isinstance(field, models.BigIntegerField):
        return 2**62, -(2**62)
    if isinstance(field, models.IntegerField):
        return 1, 0
    if isinstance(field, models.BinaryField):
        return b"\x00\xff", b""
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.1", "2001:db8::1"
    if isinstance(field, models.FileField):
        return "attachments/2024/合同.pdf", "a.txt"
    if isinstance(field, models.EmailField) or field.name == "email":
        return "first@values.example", "second@values.example"
    if isinstance(field, models.URLField):
        return "https://first.example/", "https://second.example/a?b=1"
    if field.name == "phone":
        return "+8613900001234", "+8613700005678"
    if isinstance(field, models.CharField | models.TextField):
        limit = field.max_length or 100
        return "值甲 ‘quote’"[:limit], "值乙\n第二行"[:limit]
    raise AssertionError(f"no sample values for {field.__class__.__name__} ({field})")


# fields of Django that no model uses yet, so the codec is proven for them too
EXTRA_FIELDS = [
    models.TimeField(name="t"),
    models.UUIDField(name="u"),
    models.DurationField(name="d"),
    models.BinaryField(name="b"),
    models.GenericIPAddressField(name="ip"),
    models.DecimalField(name="money", max_digits=18, decimal_places=4),
    models.FloatField(name="f"),
    models.DateTimeField(name="at"),
]


def all_fields():
    for model in apps.get_models():
        yield from model._meta.concrete_fields
    yield from EXTRA_FIELDS


def test_every_field_value_round_trips_through_json():
    """The exact JSON form used by merge records gives back the value, for every concrete field of every
    model and every Django field type listed above."""
    for field in all_fields():
        for value in samples(field):
            if isinstance(field, models.ForeignKey):
                value = field.target_field.to_python(value)
            back = from_json(field, json.loads(json.dumps(to_json(field, value))))
            assert back == value and type(back) is type(value), (field, value, back)
        assert from_json(field, json.loads(json.dumps(to_json(field, None)))) is None


def test_every_customer_field_is_chosen_in_a_merge_or_deliberately_not():
    names = {f.name for f in Customer._meta.concrete_fields}
    assert names == (set(MERGEABLE_FIELDS) | set(NOT_CHOSEN)), names ^ (
        set(MERGEABLE_FIELDS) | set(NOT_CHOSEN)
    )
    assert not set(MERGEABLE_FIELDS) & set(NOT_CHOSEN)


def _values(customer) -> dict:
    customer = Customer.objects.get(pk=customer.pk)
    return {f: getattr(customer, Customer._meta.get_field(f).attname) for f in RESTORED_FIELDS}


@pytest.mark.parametrize("kind", [Kind.PERSON, Kind.ORGANIZATION])
def test_every_value_type_survives_merge_and_undo(make_user, kind):
    """Survivor and merged record hold different values in every mergeable field and every custom-field
    type; the merge takes each from the merged record, the undo puts every survivor value back exactly."""
    manager = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    other_owner = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    choices = {}
    for t in CustomFieldType.values:
        CustomField.objects.create(
            model="customers.customer",
            key=f"cf_{t}",
            label=t,
            field_type=t,
            choices=["红", "绿"] if t == CustomFieldType.CHOICE else [],
        )
    custom_samples = {
        CustomFieldType.TEXT: ("甲", "乙"),
        CustomFieldType.NUMBER: (12.5, -3),
        CustomFieldType.DATE: ("1988-02-29", "2024-12-31"),
        CustomFieldType.CHOICE: ("红", "绿"),
        CustomFieldType.BOOLEAN: (True, False),
    }
    assert set(custom_samples) == set(CustomFieldType.values)
    data_a, data_b = {"kind": kind, "custom": {}}, {"kind": kind, "custom": {}}
    for fname in MERGEABLE_FIELDS:
        field = Customer._meta.get_field(fname)
        first, second = samples(field, users=(manager, other_owner))
        if fname == "owner":
            continue  # set below: the creator owns the record
        data_a[fname], data_b[fname] = first, second
    for t, (first, second) in custom_samples.items():
        data_a["custom"][f"cf_{t}"], data_b["custom"][f"cf_{t}"] = first, second
    survivor = services.customer_create(data=data_a, by=manager)
    loser = services.customer_create(data=data_b, by=manager)
    Customer.objects.filter(pk=loser.pk).update(owner=other_owner)
    loser.refresh_from_db()
    survivor.refresh_from_db()
    before, chosen = _values(survivor), _values(loser)
    for fname in MERGEABLE_FIELDS:
        assert before[fname] != chosen[fname], fname  # the test really changes every field
    choices = dict.fromkeys(MERGEABLE_FIELDS, loser.pk) | {
        f"{CUSTOM_PREFIX}cf_{t}": loser.pk for t in CustomFieldType.values
    }

    merge = customer_merge(survivor=survivor, others=[loser], by=manager, field_choices=choices)
    after = _values(survivor)
    for fname in MERGEABLE_FIELDS:
        assert after[fname] == chosen[fname], fname
    assert after["custom"] == chosen["custom"]
    merge.refresh_from_db()
    json.dumps(merge.survivor_before)  # stored as plain JSON

    customer_merge_undo(merge=merge, by=manager)
    restored = _values(survivor)
    for fname in RESTORED_FIELDS:
        assert restored[fname] == before[fname] and type(restored[fname]) is type(before[fname]), fname


def test_a_person_with_a_birthday_merges_through_the_api(make_user, api_for):
    manager = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    a = services.customer_create(
        data={"kind": Kind.PERSON, "name": "王芳", "birthday": "1990-05-01"}, by=manager
    )
    b = services.customer_create(
        data={"kind": Kind.PERSON, "name": "王芳 ", "birthday": "1991-06-02"}, by=manager
    )
    api = api_for(manager)
    response = api.post(
        f"/api/customers/{a.pk}/merge/",
        {"others": [b.pk], "field_choices": {"birthday": b.pk}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Customer.objects.get(pk=a.pk).birthday == dt.date(1991, 6, 2)
    assert api.post(f"/api/merges/{response.json()['merge']}/undo/").status_code == 200
    assert Customer.objects.get(pk=a.pk).birthday == dt.date(1990, 5, 1)


def _primaries(customer) -> dict:
    result = {}
    for model, fk in _customer_fks():
        if model is not Customer and "is_primary" in {f.name for f in model._meta.concrete_fields}:
            result[model._meta.label_lower] = sorted(
                model._default_manager.filter(**{fk.name: customer}, is_primary=True).values_list(
                    "pk", flat=True
                )
            )
    return result


@pytest.mark.parametrize("take_phone_from_merged", [False, True])
def test_survivor_keeps_one_primary_phone_email_and_address(make_user, take_phone_from_merged):
    manager = make_user("customers.customer", actions=ALL, read=Scope.ALL, write=Scope.ALL)
    a = services.customer_create(
        data={"name": "主号甲", "phone": "13900001111", "email": "a@p.example"}, by=manager
    )
    b = services.customer_create(
        data={"name": "主号乙", "phone": "13900002222", "email": "b@p.example"}, by=manager
    )
    c = services.customer_create(data={"name": "主号丙", "phone": "13900003333"}, by=manager)
    for owner, street in ((a, "甲路 1 号"), (b, "乙路 2 号"), (c, "丙路 3 号")):
        services.contact_point_add(customer=owner, kind="address", value=street, by=manager)
    CustomerAddress.objects.update(is_primary=True)
    assert _primaries(a)["customers.customerphone"]  # the set-up has primaries on every record
    flags_before = {
        m: sorted(m.objects.values_list("pk", "is_primary"))
        for m in (CustomerPhone, CustomerEmail, CustomerAddress)
    }
    choices = {"phone": b.pk} if take_phone_from_merged else {}

    merge = customer_merge(
        survivor=a,
        others=[Customer.objects.get(pk=b.pk), Customer.objects.get(pk=c.pk)],
        by=manager,
        field_choices=choices,
    )
    primaries = _primaries(a)
    assert primaries and all(len(pks) == 1 for pks in primaries.values()), primaries
    a.refresh_from_db()
    assert CustomerPhone.objects.get(pk=primaries["customers.customerphone"][0]).number == a.phone
    assert a.phone == ("+8613900002222" if take_phone_from_merged else "+8613900001111")
    assert CustomerEmail.objects.get(pk=primaries["customers.customeremail"][0]).email == "a@p.example"
    assert CustomerAddress.objects.get(pk=primaries["customers.customeraddress"][0]).street == "甲路 1 号"

    customer_merge_undo(merge=merge, by=manager)
    assert {
        m: sorted(m.objects.values_list("pk", "is_primary"))
        for m in (CustomerPhone, CustomerEmail, CustomerAddress)
    } == flags_before
