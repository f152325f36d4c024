"""The whole API fuzzed from its own OpenAPI schema (schemathesis, in-process over WSGI) as two roles — the
administrator and a sales rep, each with an API token: no operation may answer 5xx, and the answers must be
ones the schema documents (status code, content type, body schema).

Bounded and deterministic: a fixed, small number of examples per operation, derandomised, so the file runs in
well under a minute and fails the same way every time. A 5xx anywhere in the API fails the build."""

from __future__ import annotations

import random

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 1  # per operation and role (about 250 requests per role)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def app(db):
    """Django's WSGI handler serving inside the test's transaction (as Django's test client does, the handler
    must not close the connection after each request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def org(db):
    from kehu.core.demo import seed_org
    from kehu.customers.demo import seed_customers

    org = seed_org()
    seed_customers(count=12, owners=org.owners, rng=random.Random(7))
    return org


def fuzz(app, user) -> list[str]:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    problems: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every failure, report them together
            problems.append(f"{operation.label}: {str(exc)[:1500]}")
    return problems


@pytest.mark.parametrize("username", ["admin", "rep1"])
def test_the_api_holds_its_schema_and_never_answers_5xx(app, org, username):
    problems = fuzz(app, org.users[username])
    assert not problems, "\n\n".join(problems)
