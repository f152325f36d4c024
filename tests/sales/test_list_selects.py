"""The generic list's filter and bulk-action selects (kehu.ui.widgets.fast_selects): rendered in one pass,
the active users read once for both the owner filter and the bulk owner select, labels escaped, the chosen
filter value selected, bad filter values harmless."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kehu.sales.models import Stage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _select(page: str, name: str) -> str:
    match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select {name}"
    return match.group(1)


def test_owner_filter_and_bulk_owner_share_one_user_query(org, pipeline, client_for):
    admin = UserFactory(username="listadmin", is_superuser=True, is_staff=True)
    UserFactory(username="gone", display_name="离职销售", is_active=False)
    odd = UserFactory(username="odd", display_name='<b>"王" & 李</b>')
    client = client_for(admin)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("sales:opportunities"), {"owner": org.rep1.pk})
    assert response.status_code == 200
    page = response.content.decode()

    owner_filter = _select(page, "owner")
    assert f'<option value="{org.rep1.pk}" selected>' in owner_filter
    assert owner_filter.count(" selected") == 1
    assert '<option value="">---------</option>' in owner_filter
    bulk = page.split('name="action"', 1)[1]
    bulk_owner = _select(bulk, "owner")
    assert " selected" not in bulk_owner
    for select in (owner_filter, bulk_owner):
        assert "&lt;b&gt;&quot;王&quot; &amp; 李&lt;/b&gt;" in select and "<b>" not in select
        assert f'value="{org.rep1.pk}"' in select and f'value="{odd.pk}"' in select
        assert "离职销售" not in select  # inactive users are offered nowhere
    # the list of active users (not the filter's validation of the chosen owner, which reads one row)
    active_user_reads = [
        q["sql"]
        for q in ctx.captured_queries
        if 'FROM "core_user" WHERE "core_user"."is_active" ORDER' in q["sql"]
    ]
    assert len(active_user_reads) == 1, active_user_reads

    # the other selects (stage, pipeline, status) still offer their choices
    stage = Stage.objects.filter(pipeline=pipeline).first()
    stages = _select(page, "stage")
    assert f'<option value="{stage.pk}">' in stages and _select(page, "status").count("<option") > 2


def test_bad_filter_values_render_the_list(org, pipeline, client_for):
    admin = UserFactory(username="listadmin", is_superuser=True, is_staff=True)
    response = client_for(admin).get(reverse("sales:opportunities"), {"owner": "999999", "stage": "x<y"})
    assert response.status_code == 200
    page = response.content.decode()
    assert " selected" not in _select(page, "owner").replace('value="" selected', "")
    assert "x<y" not in page


def test_user_choices_read_as_values_label_like_str(db):
    """choice_rows reads users as plain values (User.choice_label): the labels are exactly str(user)."""
    from kehu.core.models import User
    from kehu.ui.widgets import choice_rows

    made = [
        UserFactory(username="u_display", display_name="张三", first_name="San", last_name="Zhang"),
        UserFactory(username="u_full", display_name="", first_name="San", last_name="Zhang"),
        UserFactory(username="u_first", display_name="", first_name="San", last_name=""),
        UserFactory(username="u_last", display_name="", first_name="", last_name="Zhang"),
        UserFactory(username="u_bare", display_name="", first_name="", last_name=""),
    ]
    queryset = User.objects.filter(pk__in=[u.pk for u in made])
    with CaptureQueriesContext(connection) as ctx:
        rows = choice_rows(queryset)
    assert len(ctx.captured_queries) == 1
    assert rows == [(u.pk, str(u)) for u in queryset]
    assert dict(rows)[made[1].pk] == "San Zhang" and dict(rows)[made[4].pk] == "u_bare"
