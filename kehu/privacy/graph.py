"""The records that hold a customer's data, found from the model graph and the registry: every model with a
foreign key to Customer, and the models below those (a ticket's messages, an order's lines), so apps that land
later are covered without registering anything."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.db import models

#: foreign keys from Customer to customers that do not make the row the other customer's data
_SELF_LINKS = {"merged_into", "account", "parent"}
MAX_DEPTH = 2


@dataclass(frozen=True)
class Holder:
    model: type[models.Model]
    #: lookup path to the customer id ("customer", "ticket__customer")
    path: str

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


@cache
def holders() -> tuple[Holder, ...]:
    from kehu.customers.models import Customer

    found: dict[tuple[str, str], Holder] = {}
    frontier: list[tuple[type[models.Model], str]] = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is Customer:
                if model is Customer and f.name in _SELF_LINKS:
                    continue
                found[(model._meta.label_lower, f.name)] = Holder(model, f.name)
                frontier.append((model, f.name))
    for _depth in range(MAX_DEPTH - 1):
        nxt = []
        for parent, path in frontier:
            if parent is Customer:
                continue
            for model in apps.get_models():
                for f in model._meta.concrete_fields:
                    if (
                        isinstance(f, models.ForeignKey)
                        and f.related_model is parent
                        and model is not Customer
                    ):
                        key = (model._meta.label_lower, f"{f.name}__{path}")
                        if key not in found:
                            found[key] = Holder(model, f"{f.name}__{path}")
                            nxt.append((model, f"{f.name}__{path}"))
        frontier = nxt
    return tuple(sorted(found.values(), key=lambda h: (h.label, h.path)))


def rows_of(holder: Holder, customer_ids) -> models.QuerySet:
    return holder.model._base_manager.filter(**{f"{holder.path}__in": list(customer_ids)})


def text_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField) and not f.primary_key
    ]
