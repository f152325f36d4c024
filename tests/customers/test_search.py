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


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bjkj", "北京某某科技有限公司"),  # initials of words that are not next to each other
        ("bjmmkj", "北京某某科技有限公司"),
        ("kejiyouxian", "北京某某科技有限公司"),
        ("2345678", "北京某某科技有限公司"),  # any last 4+ digits
        ("138 1234", "北京某某科技有限公司"),  # the first digits, as typed
        ("8613812345678", "北京某某科技有限公司"),
        ("BOYA.EXAMPLE.CN", "杭州博雅软件有限公司"),
        ("某某 keji", "北京某某科技有限公司"),
    ],
)
def test_finds_more(rep, data, query, expected):
    assert expected in names(rep, query)


def test_landline_as_dialled_at_home(rep):
    services.customer_create(data={"name": "上海星辰电子有限公司", "phone": "+86 21 6123 4567"}, by=rep)
    for query in ("(021) 6123 4567", "021-6123", "6123 4567", "+86 21 61234567"):
        assert names(rep, query) == ["上海星辰电子有限公司"], query


def test_rank_exact_then_prefix_then_contains(rep):
    for name in ("深圳华信电子有限公司", "华信电子", "华信", "华信电子设备有限公司"):
        services.customer_create(data={"name": name}, by=rep)
    assert names(rep, "华信") == ["华信", "华信电子", "华信电子设备有限公司", "深圳华信电子有限公司"]
    assert names(rep, "华信电子")[:2] == ["华信电子", "华信电子设备有限公司"]


def test_exact_match_found_however_many_other_matches(rep, monkeypatch):
    from kehu.customers import search

    monkeypatch.setattr(search, "MAX_CANDIDATES", 5)
    for i in range(12):
        services.customer_create(data={"name": f"恒达{i:02d}科技有限公司"}, by=rep)
    services.customer_create(data={"name": "科技"}, by=rep)
    found = search.filter_customers(scoped_list(rep), "科技", limit=5)
    assert found[0].name == "科技"
    assert found.count() <= 10  # bounded: at most `limit` per tier


def scoped_list(user):
    from kehu.customers.selectors import customer_list

    return customer_list(user=user)


def test_search_within_a_reps_share_of_the_customers(make_user):
    """A rep owning a sixth of the customers finds only their own, in the same order as an admin would."""
    reps = [make_user("customers.customer", read=Scope.OWN, write=Scope.OWN) for _ in range(6)]
    for i in range(36):
        services.customer_create(data={"name": f"华信{i:02d}电子有限公司"}, by=reps[i % 6])
    mine = names(reps[0], "华信")
    assert len(mine) == 6
    assert all(int(n[2:4]) % 6 == 0 for n in mine)
    assert names(reps[0], "hxdz") == mine


def test_filter_customers_keeps_the_given_queryset(rep, data):
    from kehu.customers.models import Customer
    from kehu.customers.search import filter_customers

    only_people = Customer.objects.filter(kind=Kind.PERSON)
    assert [c.name for c in filter_customers(only_people, "chen")] == ["陳大文"]
    assert list(filter_customers(only_people, "keji")) == []
    assert filter_customers(only_people, "  ").count() == only_people.count()


def test_merged_customers_disappear_from_search(make_user):
    from kehu.customers.merge import customer_merge

    manager = make_user(
        "customers.customer",
        actions=("view", "add", "change", "delete"),
        read=Scope.ALL,
        write=Scope.ALL,
    )
    a = services.customer_create(data={"name": "远景物流有限公司"}, by=manager)
    b = services.customer_create(data={"name": "远景物流"}, by=manager)
    customer_merge(survivor=a, others=[b], by=manager)
    assert names(manager, "远景") == ["远景物流有限公司"]


def test_search_api_is_ranked_and_scoped(rep, data, make_user, api_for):
    other = make_user("customers.customer", read=Scope.OWN)
    services.customer_create(data={"name": "科技有限公司"}, by=other)
    found = api_for(rep).get("/api/customers/search/", {"q": "科技"}).json()
    assert found[0]["name"] == "科技"
    assert "科技有限公司" not in [r["name"] for r in found]
    assert api_for(rep).get("/api/customers/search/", {"q": ""}).json() == []


def test_global_search_box(rep, data, client):
    client.force_login(rep)
    page = client.get("/search/", {"q": "bjkj"}).content.decode()
    assert "北京某某科技有限公司" in page


def test_wechat_and_other_ids_are_searchable(rep, data):
    services.contact_point_add(customer=data["person"], kind="social", value="wxid_Chen-DaWen88", by=rep)
    assert names(rep, "wxid_chen-dawen88") == ["陳大文"]
    assert names(rep, "wxid_chen") == ["陳大文"]  # as you type
    social = data["person"].social_ids.get()
    services.contact_point_remove(customer=data["person"], obj=social, by=rep)
    assert names(rep, "wxid_chen") == []


def test_list_filter_export_and_api_return_every_match_not_only_the_ranked_candidates(
    rep, client, api_for, monkeypatch
):
    """The search box ranks a bounded set of candidates; a list filter, its export and the API's ?q= must
    return every match (here more than the candidate cap)."""
    import csv
    import io

    from kehu.core.models import ModelGrant
    from kehu.customers import search

    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    ModelGrant.objects.filter(role__users=rep).update(can_export=True)
    for i in range(8):
        services.customer_create(data={"name": f"上海华信{i}号贸易有限公司"}, by=rep)
    services.customer_create(data={"name": "无关公司"}, by=rep)
    assert len(customer_search(user=rep, q="华信", limit=20)) <= 2 * 3  # the search box stays bounded
    client.force_login(rep)
    page = client.get("/customers/", {"q": "华信"})
    assert page.context["count"] == 8
    exported = b"".join(client.get("/customers/", {"q": "华信", "export": "csv"}).streaming_content)
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))[1:]
    assert sorted(r[0] for r in rows) == sorted(f"上海华信{i}号贸易有限公司" for i in range(8))
    assert api_for(rep).get("/api/customers/", {"q": "华信"}).json()["count"] == 8
    assert api_for(rep).get("/api/customers/", {"q": "12"}).json()["count"] == 0  # short: names only


def test_searched_list_keeps_the_name_order_both_ways(rep, client):
    for name in ("华信物流有限公司", "Alpha 华信 Ltd.", "北京华信科技有限公司", "华信"):
        services.customer_create(data={"name": name}, by=rep)
    client.force_login(rep)
    names = [c.name for c in client.get("/customers/", {"q": "华信"}).context["objects"]]
    assert names == sorted(names) and len(names) == 4
    reverse = [c.name for c in client.get("/customers/", {"q": "华信", "sort": "-name"}).context["objects"]]
    assert reverse == sorted(names, reverse=True)


# --------------------------------------------------------------- CJK words match independently (issue 7, item 10)
def test_cjk_query_is_cut_into_index_terms_without_overlap():
    from kehu.customers.search import cjk_alternatives, parse

    assert query_tokens("北京科技") == ["北京", "科技"]
    assert cjk_alternatives("北京科技") == [
        [("北京", False), ("科技", False)],
        [("北", False), ("京科", False), ("技", False)],
    ]
    assert cjk_alternatives("北京天科技") == [
        [("北", False), ("京天", False), ("科技", False)],
        [("北京", False), ("天", False), ("科技", False)],
        [("北京", False), ("天科", False), ("技", False)],
    ]
    # the phrase tier keeps the overlapping bigrams; a two-character query has no separate phrase
    assert parse("北京科技").phrase == [[[("北京", False), ("京科", False), ("科技", False)]]]
    assert parse("科技").phrase == []


@pytest.mark.parametrize(
    "query",
    [
        "北京科技",
        "北京科技集团",
        "北京天成科技",
        "天成集团",
        "北京天科技",
        "北京 科技",
        "北京科技有限公司",
        "beijing科技",
    ],
)
def test_cjk_words_of_a_query_match_independently(rep, query):
    services.customer_create(data={"name": "北京天成和科技集团有限公司"}, by=rep)
    services.customer_create(data={"name": "上海科技有限公司"}, by=rep)
    assert names(rep, query) == ["北京天成和科技集团有限公司"]


def test_cjk_words_match_independently_in_list_filter_and_api(rep, client, api_for):
    services.customer_create(data={"name": "北京天成和科技集团有限公司"}, by=rep)
    services.customer_create(data={"name": "北京天成物流有限公司"}, by=rep)
    api = api_for(rep)
    assert [c["name"] for c in api.get("/api/customers/", {"q": "北京科技"}).json()["results"]] == [
        "北京天成和科技集团有限公司"
    ]
    assert [c["name"] for c in api.get("/api/customers/search/", {"q": "北京科技"}).json()] == [
        "北京天成和科技集团有限公司"
    ]
    client.force_login(rep)
    assert client.get("/customers/", {"q": "北京科技"}).context["count"] == 1
    assert "北京天成和科技集团有限公司" in client.get("/search/", {"q": "北京科技"}).content.decode()


def test_cjk_phrase_matches_rank_before_scattered_words(rep):
    for name in ("北京天成和科技集团有限公司", "北京科技大学出版社", "华信集团有限公司", "中关村北京科技园"):
        services.customer_create(data={"name": name}, by=rep)
    # the alias holds the phrase: ranked above a name that only holds the words apart
    services.customer_create(data={"name": "北科集团有限公司", "alias": "北京科技集团"}, by=rep)
    assert names(rep, "北京科技") == [
        "北京科技大学出版社",  # name starts with the query
        "中关村北京科技园",  # name contains it
        "北科集团有限公司",  # the phrase, in the alias
        "北京天成和科技集团有限公司",  # the words, apart
    ]


def test_cjk_phrase_tier_is_collected_before_scattered_matches(rep, monkeypatch):
    """However many names hold the words apart, one that holds them as typed is among the candidates."""
    from kehu.customers import search

    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    for i in range(8):
        services.customer_create(data={"name": f"北京{i}号科技有限公司"}, by=rep)
    services.customer_create(data={"name": "中关村北京科技园"}, by=rep)
    assert names(rep, "北京科技")[0] == "中关村北京科技园"
