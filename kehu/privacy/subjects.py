"""Which customer a record belongs to, found through the model graph (so apps that land later are covered), and
the per-customer data keys that seal personal values in the audit trail (crypto-shredding, ADR 0024)."""

from __future__ import annotations

import json
from functools import cache

from django.db import IntegrityError, transaction

from . import crypto
from .models import SubjectKey

CUSTOMER = "customers.customer"
SEALED = "$sealed"
REPR = "$repr"


def _customer_model():
    from kehu.customers.models import Customer

    return Customer


@cache
def customer_paths(label: str) -> tuple[str, ...]:
    """Lookup paths from a record of this type to the customer whose key seals its audit values, best first:
    "" for a customer itself; else the model graph's paths (kehu/privacy/graph.py), fewer hops first and, at
    equal hops, a contact person before the account (a B2B record's personal data is the contact's)."""
    if label == CUSTOMER:
        return ("",)
    from . import graph

    paths = {h.path for h in graph.holders() if h.label == label}
    return tuple(sorted(paths, key=lambda p: (p.count("__"), "contact" not in p, p != "customer", p)))


def customers_of(label: str, rows: list[list]) -> dict[str, int]:
    """{object_id: customer id} for audit rows of one record type (the first path that is set, per row)."""
    paths = customer_paths(label)
    if not paths:
        return {}
    if paths == ("",):
        return {str(row[0]): int(row[0]) for row in rows if str(row[0]).isdigit()}
    from django.apps import apps

    result: dict[str, int] = {}
    if all("__" not in p for p in paths) and all(row[3] is not None for row in rows):
        for row in rows:  # the instance is at hand: no query
            cid = next(
                (getattr(row[3], f"{p}_id", None) for p in paths if getattr(row[3], f"{p}_id", None)), None
            )
            if cid:
                result[str(row[0])] = cid
        return result
    model = apps.get_model(label)
    ids = [str(row[0]) for row in rows if str(row[0]).isdigit()]
    lookups = [f"{p}__pk" for p in paths]
    for values in model._base_manager.filter(pk__in=ids).values_list("pk", *lookups):
        cid = next((v for v in values[1:] if v), None)
        if cid:
            result[str(values[0])] = cid
    return result


def data_keys(customer_ids, *, create: bool) -> dict[int, bytes]:
    """The customers' unwrapped data keys (created when missing and `create`, except for erased customers).
    One query when every key exists (the usual write)."""
    ids = set(customer_ids)
    keys = {k.customer_id: k for k in SubjectKey.objects.filter(customer_id__in=ids)}
    missing = ids - set(keys)
    if create and missing:
        missing -= _erased_customers(missing)
    if create and missing:
        new = [
            SubjectKey(
                customer_id=cid,
                wrapped=crypto.encrypt(crypto.new_data_key().decode()),
                key_id=crypto.current_key_id(),
            )
            for cid in missing
        ]
        try:
            with transaction.atomic():
                SubjectKey.objects.bulk_create(new)
            keys.update({k.customer_id: k for k in new})
        except IntegrityError:  # created meanwhile by another writer: read theirs
            keys = {k.customer_id: k for k in SubjectKey.objects.filter(customer_id__in=ids)}
    return {cid: crypto.decrypt(k.wrapped).encode() for cid, k in keys.items()}


def _erased_customers(ids) -> set[int]:
    from .models import Erasure

    return set(Erasure.objects.filter(customer_id__in=ids).values_list("customer_id", flat=True))


def seal_rows(label: str, rows: list[list]) -> list[list]:
    """audit.SEAL_HOOKS: every value of an entry about a customer's record is sealed with the customer's key;
    the record's text (object_repr) too (the entry keeps "#id")."""
    owners = customers_of(label, rows)
    if not owners:
        return rows
    keys = data_keys(set(owners.values()), create=True)
    for row in rows:
        cid = owners.get(str(row[0]))
        if cid is None:
            continue
        key = keys.get(cid)
        changes = row[2] or {}
        if key is None:  # erased already: nothing personal may be written again
            row[1] = ""
            row[2] = {name: {SEALED: "", "c": cid} for name in changes}
            continue
        sealed = {
            name: {SEALED: crypto.seal(key, json.dumps(value, ensure_ascii=False)), "c": cid}
            for name, value in changes.items()
        }
        if row[1]:
            sealed[REPR] = {SEALED: crypto.seal(key, json.dumps(row[1], ensure_ascii=False)), "c": cid}
        row[1] = ""
        row[2] = sealed
    return rows


ERASED = "[erased]"


def reveal_entries(entries) -> None:
    """audit.REVEAL_HOOKS: open sealed values in memory; those whose key is gone read as erased."""
    wanted = {
        value["c"]
        for e in entries
        for value in (e.changes or {}).values()
        if isinstance(value, dict) and SEALED in value
    }
    if not wanted:
        return
    keys = data_keys(wanted, create=False)
    for e in entries:
        changes = e.changes or {}
        if not any(isinstance(v, dict) and SEALED in v for v in changes.values()):
            continue
        opened = {}
        for name, value in changes.items():
            if isinstance(value, dict) and SEALED in value:
                key = keys.get(value["c"])
                try:
                    plain = json.loads(crypto.unseal(key, value[SEALED])) if key and value[SEALED] else None
                except crypto.InvalidToken:
                    plain = None
                if plain is None:
                    plain = [ERASED, ERASED] if name != REPR else ERASED
                value = plain
            if name == REPR:
                e.object_repr = value
            else:
                opened[name] = value
        e.changes = opened
