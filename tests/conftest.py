"""Suite-wide fixtures. Browser fixtures live in tests/e2e/conftest.py."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope

from .factories import UserFactory, user_with

ALL_ACTIONS = ("view", "add", "change", "delete", "import", "export", "transfer")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def make_user(db):
    """make_user("customers.customer", actions=(...), read=Scope.OWN, write=Scope.OWN, **user fields)"""

    def make(model="customers.customer", actions=ALL_ACTIONS, read=Scope.OWN, write=Scope.OWN, **kwargs):
        return user_with(model, actions, read, write, **kwargs)

    return make


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for():
    from rest_framework.test import APIClient

    def make(user):
        api = APIClient()
        api.force_authenticate(user)
        return api

    return make


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests end with Django emptying every table, which the audit trail's append-only guard
    refuses. The suite runs with the guard switched off; tests of the guard switch it on inside their own
    transaction (kehu.core.dbguards.enabled)."""
    from django.db import connections

    from kehu.core import dbguards

    with django_db_blocker.unblock():
        for connection in connections.all():
            dbguards.set_enabled(connection, False)


@pytest.fixture(autouse=True)
def _reset_language():
    """Requests activate the user's language for the thread (as in production, where every request sets its
    own); the test client shares the thread, so put the default back after each test."""
    yield
    from django.utils import translation

    translation.deactivate()
