"""Segment rules: a JSON tree of AND/OR groups with exclusions, validated and compiled to one query.

A definition (``Segment.definition``)::

    {"match": "all" | "any",                 # AND / OR of the conditions
     "conditions": [<condition or group>, ...],
     "exclude": [<condition or group>, ...]} # customers matching any of these are left out

    group     = {"match": "all" | "any", "conditions": [...]}        (nested up to MAX_DEPTH)
    condition = {"field": "lifecycle_stage", "op": "in", "value": ["customer", "loyal"]}
                 + "period": {"last_days": 90} | {"from": "2026-01-01", "to": "2026-03-31"}  (purchase fields)
                 + "currency": "CNY"                                                          (spent)
                 + "channels": ["call", "visit"]                                              (contact)

``compile_rules(definition, access=...)`` validates the whole tree (every error with its path, e.g.
``conditions[2].value: …``) and returns one ``Q`` over ``Customer``: related data (tags, addresses, order
lines, interactions, scores) enters through ``Exists`` / ``IN (SELECT …)`` subqueries, so a count or a
snapshot is one SQL statement whatever the number of customers — no per-customer Python.

The fields are a registry (``FIELDS``; ``register_field`` for other apps, e.g. the campaign engine's
"opened campaign C"). Each field says which operators it takes, how a value is validated and compiled, and
whether the acting user may use it: a field hidden for the user's role — or data the role may not see at all
(orders, interactions) — is refused, since a rule over it would reveal its values through the count (ADR 0012).
"""

from __future__ import annotations

from django.db.models import Q

from kehu.core.access import Access

from .base import (
    FIELDS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    NO_VALUE,
    OP_LABELS,
    Context,
    RuleError,
    RuleField,
    register_field,
)
from .compiler import (
    available_fields,
    builder_schema,
    compile_rules,
    describe,
    jsonable,
    parse_definition,
    schema_for_fields,
)
from .fields import custom_fields, register_builtin_fields

__all__ = [
    "FIELDS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "NO_VALUE",
    "OP_LABELS",
    "Access",
    "Context",
    "Q",
    "RuleError",
    "RuleField",
    "available_fields",
    "builder_schema",
    "schema_for_fields",
    "compile_rules",
    "describe",
    "custom_fields",
    "jsonable",
    "parse_definition",
    "register_builtin_fields",
    "register_field",
]
