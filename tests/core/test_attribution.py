"""Who logged, wrote or uploaded a record comes from the request, never from input (issue 7, item 4).

The first test walks every registered model and every field pointing at the user model: each is the owner
field, declared attribution, declared assigned (set on purpose, under the field rights), declared system or not
editable (written by services only). The others prove it for real: forging attribution through the API
(POST and PATCH), the generic edit form and the record service is ignored or refused — for every model with
an API endpoint, found from the URL configuration, not from a hand list.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.urls import get_resolver
from rest_framework.test import APIRequestFactory

from kehu.core import records, registry
from kehu.core.exceptions import FieldNotWritable
from kehu.core.models import Scope
from kehu.customers import services as customer_services
from kehu.interactions.models import Interaction
from tests.factories import UserFactory
from tests.interactions.conftest import grant_interactions


def user_fields(model) -> list[models.Field]:
    user_model = get_user_model()
    return [
        f
        for f in [*model._meta.concrete_fields, *model._meta.many_to_many]
        if f.is_relation and f.related_model is user_model
    ]


def test_every_user_field_of_every_model_is_declared():
    undeclared, unknown = [], []
    for entry in registry.all_models():
        names = {f.name for f in entry.model._meta.get_fields()}
        for name in (*entry.attribution, *entry.assigned, *entry.system):
            if name not in names:
                unknown.append(f"{entry.label}.{name}")
        declared = {entry.owner_field, *entry.attribution, *entry.assigned, *entry.system}
        for f in user_fields(entry.model):
            if f.name not in declared and f.editable:
                undeclared.append(f"{entry.label}.{f.name}")
        assert not set(entry.attribution) & set(entry.assigned), entry.label
    assert not unknown, f"declared fields that do not exist: {unknown}"
    assert not undeclared, (
        "foreign keys to the user model that are neither the owner, attribution (set from the request), "
        f"assigned (chosen on purpose) nor system/non-editable: {undeclared}"
    )


def api_serializers():
    """(url, serializer class) of every API endpoint, found from the URL configuration."""
    found = {}

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, prefix + str(p.pattern))
                continue
            cls = getattr(p.callback, "cls", None)
            serializer = getattr(cls, "serializer_class", None)
            model = getattr(getattr(serializer, "Meta", None), "model", None)
            if model is not None and registry.get(model) is not None:
                found.setdefault(serializer, prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    return found


@pytest.mark.django_db
def test_no_api_serializer_accepts_attribution_input():
    """Every serializer of every registered model: attribution and system fields are read-only for a caller
    who holds every right (so no role can write them)."""
    admin = UserFactory(is_superuser=True)
    request = APIRequestFactory().post("/")
    request.user = admin
    checked = 0
    for serializer_class, url in api_serializers().items():
        entry = registry.get(serializer_class.Meta.model)
        fields = serializer_class(context={"request": request}).fields
        for name in (*entry.attribution, *entry.system):
            if name in fields:
                assert fields[name].read_only, f"{url}: {name} is writable"
                checked += 1
        for f in user_fields(entry.model):
            if not f.editable and f.name in fields:
                assert fields[f.name].read_only, f"{url}: {f.name} is writable"
    assert checked >= 2  # interactions.user, ticket messages' author at least


@pytest.fixture
def rep(make_user):
    user = make_user("customers.customer", read=Scope.OWN, write=Scope.OWN, username="rep1")
    grant_interactions(user)
    return user


@pytest.mark.django_db
def test_forged_interaction_user_is_ignored_on_post_and_patch(rep, api_for):
    admin = UserFactory(is_superuser=True, username="admin")
    customer = customer_services.customer_create(data={"name": "冒名客户"}, by=rep)
    api = api_for(rep)
    created = api.post(
        "/api/interactions/",
        {"customer": customer.pk, "channel": "call", "subject": "冒名", "user": admin.pk},
        format="json",
    )
    assert created.status_code == 201, created.content
    entry = Interaction.objects.get(pk=created.json()["id"])
    assert entry.user == rep and created.json()["user"] == rep.pk
    patched = api.patch(
        f"/api/interactions/{entry.pk}/",
        {"user": admin.pk, "subject": "改了"},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert patched.status_code == 200, patched.content
    entry.refresh_from_db()
    assert entry.user == rep and entry.subject == "改了"
    # the PUT variant too
    put = api.put(
        f"/api/interactions/{entry.pk}/",
        {"customer": customer.pk, "channel": "call", "subject": "再改", "user": admin.pk},
        format="json",
        HTTP_IF_MATCH=patched["ETag"],
    )
    assert put.status_code == 200, put.content
    entry.refresh_from_db()
    assert entry.user == rep and entry.subject == "再改"


@pytest.mark.django_db
def test_forged_interaction_user_is_ignored_by_the_edit_form(rep, client):
    admin = UserFactory(is_superuser=True)
    customer = customer_services.customer_create(data={"name": "表单客户"}, by=rep)
    from kehu.interactions import services as interaction_services

    entry = interaction_services.interaction_log(
        customer=customer, data={"channel": "call", "subject": "原来"}, by=rep
    )
    client.force_login(rep)
    page = client.get(f"/interactions/{entry.pk}/edit/").content.decode()
    assert 'name="user"' not in page or "disabled" in page.split('name="user"')[1].split(">")[0]
    response = client.post(
        f"/interactions/{entry.pk}/edit/",
        {
            "channel": "call",
            "direction": "out",
            "subject": "表单改",
            "occurred_at": "2024-05-01T10:00",
            "user": admin.pk,
            "version": entry.version,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert entry.subject == "表单改" and entry.user == rep


@pytest.mark.django_db
def test_record_service_sets_attribution_from_the_actor_for_every_declared_model(rep):
    """The one write path: on create the attribution fields are the actor whatever the data says; a later
    change of them is refused."""
    admin = UserFactory(is_superuser=True)
    customer = customer_services.customer_create(data={"name": "服务层客户"}, by=rep)
    entry = records.record_create(
        model=Interaction,
        data={"customer": customer, "channel": "call", "subject": "服务层", "user": admin},
        by=rep,
    )
    assert entry.user == rep
    with pytest.raises(FieldNotWritable):
        records.record_update(instance=entry, data={"user": admin}, by=admin, expected_version=entry.version)
    assert Interaction.objects.get(pk=entry.pk).user == rep


@pytest.mark.django_db
def test_forged_lead_activity_user_is_ignored(make_user, api_for):
    """A sales model: a lead's activity logged through the API is the caller's, whatever `user` says."""
    from kehu.sales.models import LeadActivity

    rep = make_user("sales.lead", read=Scope.OWN, write=Scope.OWN)
    admin = UserFactory(is_superuser=True)
    from kehu.sales.services.leads import lead_create

    lead = lead_create(data={"name": "线索", "company": "线索公司"}, by=rep)
    api = api_for(rep)
    response = api.post(
        f"/api/leads/{lead.pk}/activities/",
        {"channel": "call", "subject": "冒名", "user": admin.pk},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    assert LeadActivity.objects.get().user == rep
