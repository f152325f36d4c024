"""`?value_segment=` and `?at_risk=` on the customer list page and /api/customers/: the customers of a value
segment, at or above (or below) the at-risk threshold — within the reader's scope; not offered and ignored for
a reader who may not see the field (as every filter on a hidden field); bad values refused in the API."""

from __future__ import annotations

import pytest

from kehu.analytics.models_value import CustomerValue, ValueSettings
from kehu.analytics.services import scoring_run
from kehu.core.access import Access
from kehu.core.models import FieldGrant, ModelGrant, Scope

from .test_value import history  # noqa: F401 - the 60-customer fixture

pytestmark = pytest.mark.django_db


def _ids(api, query: str) -> set[int]:
    answer = api.get(f"/api/customers/?page_size=200&{query}")
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


def _hide(user, field):
    role = user.roles.get()
    ModelGrant.objects.get_or_create(
        role=role, model="analytics.customervalue", defaults={"can_view": True, "read_scope": Scope.OWN}
    )
    FieldGrant.objects.create(role=role, model="analytics.customervalue", field=field, access="hidden")
    Access.forget(user)
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def scored(history, org):  # noqa: F811
    scoring_run()
    mine = CustomerValue.objects.filter(customer__owner=org.rep1)
    threshold = ValueSettings.current().at_risk_threshold
    return {
        "segments": {s: set(mine.filter(segment=s).values_list("customer_id", flat=True)) for s in
                     ("top", "core", "standard", "below_zero")},
        "risky": set(mine.filter(churn_risk__gte=threshold).values_list("customer_id", flat=True)),
        "safe": set(mine.filter(churn_risk__lt=threshold).values_list("customer_id", flat=True)),
        "theirs": set(CustomerValue.objects.exclude(customer__owner=org.rep1).values_list("customer_id", flat=True)),
    }  # fmt: skip


def test_the_api_filters_by_value_segment_and_risk_within_scope(scored, org, api_for):
    api = api_for(org.rep1)
    assert scored["segments"]["top"] and scored["risky"] and scored["safe"]
    for segment, ids in scored["segments"].items():
        assert _ids(api, f"value_segment={segment}") == ids
    assert _ids(api, "at_risk=true") == scored["risky"]
    assert _ids(api, "at_risk=false") == scored["safe"]
    assert not (_ids(api, "at_risk=true") & scored["theirs"])  # another rep's customers stay out
    assert _ids(api, "value_segment=top&at_risk=false") == scored["segments"]["top"] & scored["safe"]


def test_bad_values_are_refused_in_the_api(scored, org, api_for):
    api = api_for(org.rep1)
    for query in ("value_segment=platinum", "at_risk=maybe"):
        answer = api.get(f"/api/customers/?{query}")
        assert answer.status_code == 400, query
        assert query.split("=")[0] in answer.json()


def test_the_list_page_filters_and_offers_the_filters(scored, org, client_for):
    client = client_for(org.rep1)
    page = client.get("/customers/").content.decode()
    assert 'name="value_segment"' in page and 'name="at_risk"' in page
    html = client.get("/customers/", {"at_risk": "true", "page_size": 200}).content.decode()
    shown = {pk for pk in scored["risky"] | scored["safe"] if f"/customers/{pk}/" in html}
    assert shown == scored["risky"]
    html = client.get("/customers/", {"value_segment": "top", "page_size": 200}).content.decode()
    shown = {pk for pk in scored["risky"] | scored["safe"] if f"/customers/{pk}/" in html}
    assert shown == scored["segments"]["top"]


@pytest.mark.parametrize("field", ["segment", "churn_risk"])
def test_a_hidden_field_cannot_be_filtered_on(scored, org, api_for, client_for, field):
    rep = _hide(org.rep1, field)
    api = api_for(rep)
    everyone = _ids(api, "")
    name, query = (
        ("value_segment", "value_segment=top") if field == "segment" else ("at_risk", "at_risk=true")
    )
    assert _ids(api, query) == everyone  # ignored: the answer says nothing about the hidden field
    page = client_for(rep).get("/customers/").content.decode()
    assert f'name="{name}"' not in page
    other = "at_risk" if field == "segment" else "value_segment"
    assert f'name="{other}"' in page  # the other filter is still offered
