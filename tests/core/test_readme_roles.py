"""README.md's demo-login table is a promise: every claim in its "sees" column is checked here by signing in as
that demo user (after `seed_demo`). The table is parsed from the README, so a row or claim added there without
a check below fails `test_every_readme_claim_has_a_check`; a claim that stops holding fails its row's test."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Q
from django.urls import reverse
from rest_framework.test import APIClient

from kehu.core import registry
from kehu.core.access import Access
from kehu.core.models import Department, User
from kehu.customers.models import Customer
from kehu.sales.models import Lead, Opportunity
from kehu.service.models import Ticket

README = Path(__file__).resolve().parents[2] / "README.md"


# ----------------------------------------------------------------------------------------- the README table
def _split_claims(text: str) -> list[str]:
    """'a (x, y), b; c' → ['a (x, y)', 'b', 'c']: commas and semicolons outside parentheses separate claims."""
    claims, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch in ",;" and depth == 0:
            claims.append(current.strip())
            current = ""
        else:
            current += ch
    claims.append(current.strip())
    return [c for c in claims if c]


def _usernames(cell: str) -> list[str]:
    names = re.findall(r"`([^`]+)`", cell)
    if "…" in cell and len(names) == 2:  # `rep1`…`rep4`
        (stem, first), (_stem, last) = (re.fullmatch(r"(\D+)(\d+)", n).groups() for n in names)
        return [f"{stem}{i}" for i in range(int(first), int(last) + 1)]
    return names


def readme_rows() -> list[tuple[str, list[str], list[str]]]:
    """(users cell, usernames, claims) of each row of the table under "| user | role | sees |"."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "") == "|user|role|sees|")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        users, _role, sees = (c.strip() for c in line.strip("|").split("|"))
        rows.append((users, _usernames(users), _split_claims(sees)))
    return rows


# ----------------------------------------------------------------------------------------------- helpers
def _user(username: str) -> User:
    return User.objects.get(username=username)


def _api(username: str) -> APIClient:
    api = APIClient()
    api.force_authenticate(_user(username))
    return api


def _page(client, username: str, url: str) -> int:
    client.force_login(_user(username))
    return client.get(url).status_code


def _owners(username: str, model, mode: str = "read") -> set[str]:
    qs = Access.of(_user(username)).filter(model.objects.all(), mode=mode)
    return set(qs.values_list("owner__username", flat=True))


def _all_owners(model) -> set[str]:
    return set(model.objects.values_list("owner__username", flat=True))


def _patch(username: str, customer: Customer) -> int:
    return (
        _api(username)
        .patch(
            f"/api/customers/{customer.pk}/",
            {"alias": f"{customer.alias}·", "version": customer.version},
            format="json",
        )
        .status_code
    )


def _department_usernames(key_name: str) -> set[str]:
    root = Department.objects.get(name=key_name)
    ids, frontier = {root.pk}, [root.pk]
    while frontier:
        frontier = list(Department.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.update(frontier)
    return set(User.objects.filter(department_id__in=ids).values_list("username", flat=True))


# ------------------------------------------------------------------------------------ one check per claim
def sees_everything(u, client):
    access = Access.of(_user(u))
    for model in (Customer, Lead, Opportunity, Ticket):
        assert access.filter(model.objects.all()).count() == model.objects.count(), model
    assert access.is_superuser


def admin_page(url_name):
    def check(u, client):
        assert _page(client, u, reverse(url_name)) == 200

    return check


def of_the_north_region(*models):
    def check(u, client):
        north = _department_usernames("华北大区 North region")
        for model in models:
            owners = _owners(u, model)
            assert owners and owners <= north, (model, owners)
            assert owners == _all_owners(model) & north, model

    return check


def can(action, model, page=None):
    def check(u, client):
        assert Access.of(_user(u)).can(action, model)
        if page:
            assert _page(client, u, page) == 200

    return check


def rules_and_forms(u, client):
    assert Access.of(_user(u)).can("change", "sales.assignmentrule")
    assert Access.of(_user(u)).can("change", "sales.leadwebform")
    assert _page(client, u, reverse("sales:rules")) == 200
    assert _page(client, u, reverse("sales:webforms")) == 200


def own_only(*models):
    def check(u, client):
        for model in models:
            assert _owners(u, model) <= {u}, model
        assert _owners(u, models[0])

    return check


def field_access(access, *fields):
    def check(u, client):
        a = Access.of(_user(u))
        found = a.hidden_fields(Customer) if access == "hidden" else a.readonly_fields(Customer)
        assert set(fields) <= found
        if access == "readonly":
            assert not set(fields) & a.hidden_fields(Customer)
        if access == "hidden":
            row = _api(u).get("/api/customers/", {"page_size": 1}).json()["results"][0]
            assert not set(fields) & set(row)

    return check


def all_customers_changes_created(u, client):
    assert Access.of(_user(u)).filter(Customer.objects.all()).count() == Customer.objects.count()
    created = _api(u).post("/api/customers/", {"name": "市场活动新客户有限公司"}, format="json")
    assert created.status_code == 201, created.content
    mine = Customer.objects.get(pk=created.json()["id"])
    assert _patch(u, mine) == 200
    others = Customer.objects.exclude(owner__username=u).first()
    assert _patch(u, others) in (403, 404)


def exports_customers(u, client):
    assert Access.of(_user(u)).can("export", Customer)
    client.force_login(_user(u))
    assert client.get("/customers/", {"export": "csv"}).status_code == 200


def every_lead_changes_own(u, client):
    assert _owners(u, Lead) == _all_owners(Lead)
    api = _api(u)
    created = api.post("/api/leads/", {"name": "展会线索", "company": "展会线索公司"}, format="json")
    assert created.status_code == 201, created.content
    lead = Lead.objects.get(pk=created.json()["id"])
    changed = api.patch(f"/api/leads/{lead.pk}/", {"title": "市场部", "version": lead.version}, format="json")
    assert changed.status_code == 200, changed.content
    other = Lead.objects.exclude(owner__username=u).first()
    refused = api.patch(f"/api/leads/{other.pk}/", {"title": "x", "version": other.version}, format="json")
    assert refused.status_code in (403, 404)


def web_forms(u, client):
    assert Access.of(_user(u)).can("change", "sales.leadwebform")
    assert _page(client, u, reverse("sales:webforms")) == 200


def all_customers(u, client):
    assert Access.of(_user(u)).filter(Customer.objects.all()).count() == Customer.objects.count()


def edits_team_customers(u, client):
    me = _user(u)
    team = set(User.objects.filter(teams__in=me.teams.all()).values_list("username", flat=True))
    writable = _owners(u, Customer, mode="write")
    assert writable and writable <= team
    assert _patch(u, Customer.objects.filter(owner__username__in=team).first()) == 200
    assert _patch(u, Customer.objects.exclude(owner__username__in=team).first()) in (403, 404)


def every_ticket_and_queue(u, client):
    assert Access.of(_user(u)).filter(Ticket.objects.all()).count() == Ticket.objects.count() > 0
    assert _page(client, u, reverse("service:queue")) == 200


#: what an executive may change: approving a campaign is a change of the campaign (four eyes, ADR 0015); its
#: child records (journey steps, enrolments) are governed by its grant
APPROVALS = {"marketing.campaign": {"change"}}


def everything_read_only(u, client):
    access = Access.of(_user(u))
    for model in (Customer, Lead, Opportunity, Ticket):
        assert access.filter(model.objects.all()).count() == model.objects.count(), model
    for entry in registry.all_models():
        actions = access.grant(entry.label).actions - APPROVALS.get(entry.grant_label(), set())
        assert not actions & {"add", "change", "delete", "import", "transfer"}, (entry.label, actions)
    assert access.grant("marketing.campaign").actions >= {"view", "change"}  # the approval
    assert _patch(u, Customer.objects.first()) in (403, 404)


def audit_trail(u, client):
    assert _page(client, u, reverse("core:audit")) == 200
    client.force_login(_user(u))
    assert reverse("core:audit") in client.get("/").content.decode()  # in the navigation
    changed = Customer.objects.first()
    assert _patch("admin", changed) == 200  # an audited write to find
    found = _api(u).get("/api/audit/", {"model": "customers.customer", "object_id": changed.pk}).json()
    assert found["results"], found


def portal_own_account_only(u, client):
    from kehu.portal.models import PortalUser
    from kehu.products.models import InstalledProduct
    from kehu.sales.models import Order

    profile = PortalUser.objects.get(user__username=u)
    own = set(
        Customer.objects.filter(Q(pk=profile.customer_id) | Q(account_id=profile.customer_id)).values_list(
            "pk", flat=True
        )
    )
    access = Access.of(_user(u))
    orders = access.filter(Order.objects.all())
    assert orders.exists() and set(orders.values_list("customer_id", flat=True)) <= own
    for model in (Ticket, InstalledProduct):
        assert set(access.filter(model.objects.all()).values_list("customer_id", flat=True)) <= own, model
    client.force_login(_user(u), backend="kehu.portal.backends.AccountBackend")
    assert client.get(reverse("portal:orders")).status_code == 200


def portal_partner_orders(u, client):
    from kehu.portal.models import PartnerLink, PortalUser
    from kehu.sales.models import Order

    profile = PortalUser.objects.get(user__username=u)
    served = set(
        PartnerLink.objects.filter(partner_id=profile.customer_id).values_list("customer_id", flat=True)
    )
    orders = Access.of(_user(u)).filter(Order.objects.all())
    assert orders.exists() and set(orders.values_list("customer_id", flat=True)) <= served | {
        profile.customer_id
    }


def portal_deals(u, client):
    client.force_login(_user(u), backend="kehu.portal.backends.AccountBackend")
    assert client.get(reverse("portal:deals")).status_code == 200
    assert Access.of(_user(u)).can("add", Lead)


def portal_no_staff(u, client):
    client.force_login(_user(u), backend="kehu.portal.backends.AccountBackend")
    assert client.get("/customers/").status_code == 403
    assert client.get("/api/customers/").status_code == 403


CHECKS = {
    "`admin`": {
        "everything": sees_everything,
        "configures users": admin_page("core:users"),
        "departments": admin_page("core:departments"),
        "teams": admin_page("core:teams"),
        "roles": admin_page("core:roles"),
        "fields": admin_page("core:customfields"),
    },
    "`manager`": {
        "customers": of_the_north_region(Customer),
        "leads and deals of the North region department (and sub-departments)": of_the_north_region(
            Lead, Opportunity
        ),
        "import": can("import", Customer, "/customers/imports/new/"),
        "transfer": can("transfer", Customer),
        "lead assignment rules and web forms": rules_and_forms,
    },
    "`rep1`…`rep4`": {
        "own customers": own_only(Customer),
        "leads and deals only": own_only(Lead, Opportunity),
        "tax id read-only": field_access("readonly", "tax_id"),
    },
    "`marketer`": {
        "all customers (changes their own: the ones they created)": all_customers_changes_created,
        "export": exports_customers,
        "import lead lists": can("import", Lead),
        "every lead (changes own)": every_lead_changes_own,
        "web forms": web_forms,
        "notes and tax id hidden": field_access("hidden", "notes", "tax_id"),
    },
    "`agent`, `agent2`": {
        "all customers": all_customers,
        "edit those of their team": edits_team_customers,
        "income band hidden": field_access("hidden", "income_band"),
        "every ticket (queue page at *Service → My queue*)": every_ticket_and_queue,
    },
    "`exec`": {
        "everything read-only but the approval of campaigns": everything_read_only,
        "audit trail": audit_trail,
    },
    "`portal@kehu.localhost`": {
        "their own account's records only (orders, tickets, products)": portal_own_account_only,
        "no staff page or API": portal_no_staff,
    },
    "`partner@kehu.localhost`": {
        "the orders of the customers it serves": portal_partner_orders,
        "its registered deals": portal_deals,
        "no staff page or API": portal_no_staff,
    },
}


def test_every_readme_claim_has_a_check():
    rows = readme_rows()
    assert {users: claims for users, _names, claims in rows} == {k: list(v) for k, v in CHECKS.items()}


@pytest.mark.django_db
@pytest.mark.parametrize("users", list(CHECKS))
def test_demo_role_does_what_the_readme_says(users, client):
    call_command("seed_demo", customers=30, seed=3, stdout=io.StringIO())
    usernames = next(names for cell, names, _claims in readme_rows() if cell == users)
    failed = []
    for username in usernames:
        for claim, check in CHECKS[users].items():
            try:
                check(username, client)
            except AssertionError as exc:
                failed.append(f"{username}: {claim!r} does not hold ({exc})")
    assert not failed, "\n".join(failed)
