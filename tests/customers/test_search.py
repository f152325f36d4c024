"""Search: Chinese substrings, pinyin and initials, phones in any format, emails, ranking, scope — on the
database under test (SQLite FTS5 or PostgreSQL GIN)."""

from __future__ import annotations

import pytest

from kehu.core.models import Scope
from kehu.customers import services
from kehu.customers.models import Kind
from kehu.customers.search import customer_search, query_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("customers.customer", read=Scope.OWN, write=Scope.OWN)


@pytest.fixture
def data(rep):
    made = {
        "bj": services.customer_create(data={"name": "北京某某科技有限公司", "phone": "13812345678"}, by=rep),
        "hz": services.customer_create(
            data={"name": "杭州博雅软件有限公司", "email": "Sales@BoYa.example.cn"}, by=rep
        ),
        "keji": services.customer_create(data={"name": "科技"}, by=rep),
        "person": services.customer_create(
            data={"name": "陳大文", "kind": Kind.PERSON, "phone": "+1 212 736 1234"}, by=rep
        ),
        "en": services.customer_create(data={"name": "Northwind Trading Co., Ltd."}, by=rep),
    }
    return made


def names(user, q):
    return [c.name for c in customer_search(user=user, q=q)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("科技", "北京某某科技有限公司"),
        ("某某科技", "北京某某科技有限公司"),
        ("keji", "北京某某科技有限公司"),
        ("bjmm", "北京某某科技有限公司"),
        ("kj", "北京某某科技有限公司"),
        ("138-1234-5678", "北京某某科技有限公司"),
        ("+86 138 1234 5678", "北京某某科技有限公司"),
        ("5678", "北京某某科技有限公司"),
        ("boya", "杭州博雅软件有限公司"),
        ("sales@boya", "杭州博雅软件有限公司"),
        ("陈大文", "陳大文"),
        ("chen", "陳大文"),
        ("(212) 736-1234", "陳大文"),
        ("northwind", "Northwind Trading Co., Ltd."),
        ("ＮＯＲＴＨ", "Northwind Trading Co., Ltd."),
    ],
)
def test_finds(rep, data, query, expected):
    assert expected in names(rep, query)


def test_ranks_exact_name_first_and_ignores_noise(rep, data):
    assert names(rep, "科技")[0] == "科技"
    assert names(rep, "没有这个") == []
    assert names(rep, "'; DROP TABLE x; --") == []
    assert names(rep, ":*&|!()") == []
    assert query_tokens("   ") == []


def test_search_never_shows_records_outside_scope(rep, make_user, data, client, api_for):
    other = make_user("customers.customer", read=Scope.OWN)
    services.customer_create(data={"name": "保密科技集团"}, by=other)
    assert "保密科技集团" not in names(rep, "科技")
    assert "保密科技集团" in names(other, "科技")
    client.force_login(rep)
    assert "保密科技集团" not in client.get("/search/", {"q": "保密"}).content.decode()
    assert "保密科技集团" not in client.get("/customers/", {"q": "保密"}).content.decode()
    assert api_for(rep).get("/api/customers/", {"q": "保密"}).json()["results"] == []


def test_search_follows_edits(rep, data):
    c = data["hz"]
    services.customer_update(
        customer=c, data={"name": "杭州新名字有限公司"}, by=rep, expected_version=c.version
    )
    assert "杭州新名字有限公司" in names(rep, "新名字")
    assert "杭州新名字有限公司" not in names(rep, "博雅")
    services.contact_point_add(customer=c, kind="phone", value="13900001111", by=rep)
    assert "杭州新名字有限公司" in names(rep, "139 0000 1111")
