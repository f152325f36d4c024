"""The form-layout editor in a real browser under the strict CSP: an administrator lays out the product form
for marketers (two sections, a required description, a help text, list columns), previews it, saves it; a
marketer then sees the sections, the help text and the required field's error on their form."""

from __future__ import annotations

import pytest

from kehu.core.models import AuditEntry, FormLayout, Role

pytestmark = pytest.mark.e2e


def test_lay_out_preview_save_and_the_marketer_sees_it(seeded, context_factory, login, live_server):
    page = context_factory(viewport={"width": 1366, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, "admin")
    page.goto(f"{live_server.url}/settings/layouts/")
    page.select_option("[data-testid=new-layout] select[name=model]", "products.product")
    page.click("[data-testid=new-layout] button[type=submit]")
    page.wait_for_selector("[data-testid=layout-editor]")
    marketer = Role.objects.get(code="marketer")
    page.select_option("[data-testid=layout-role]", str(marketer.pk))
    for name, section, pos in [("name", "基本信息", 1), ("sku", "基本信息", 2), ("list_price", "价格", 3)]:
        page.fill(f"input[name='section:{name}']", section)
        page.fill(f"input[name='pos:{name}']", str(pos))
    page.check("input[name='req:description']")
    page.fill("input[name='help:list_price']", "含税价")
    page.fill("input[name='col:name']", "1")
    page.fill("input[name='col:list_price']", "2")
    page.click("[data-testid=layout-preview-button]")
    preview = page.locator("[data-testid=layout-preview]")
    preview.locator("text=含税价").wait_for()
    assert "基本信息" in preview.inner_text() and not FormLayout.objects.exists()
    page.click("[data-testid=layout-save]")
    page.wait_for_url(f"{live_server.url}/settings/layouts/*/")
    row = FormLayout.objects.get()
    assert row.role == marketer and row.required == ["description"]
    assert AuditEntry.objects.filter(model="core.formlayout", action="create").exists()

    other = context_factory(viewport={"width": 1366, "height": 900}).new_page()
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    login(other, "marketer")
    other.goto(f"{live_server.url}/products/new/")
    sections = other.locator("[data-testid=form-section] legend").all_inner_texts()
    assert sections[:2] == ["基本信息", "价格"]
    assert "含税价" in other.inner_text("form.form")
    other.fill("input[name=sku]", "LAY-1")
    other.fill("input[name=name]", "布局测试")
    other.click("[data-testid=save]")
    other.wait_for_selector(".errorlist, [role=alert]")
    assert "LAY-1" not in other.url
    from kehu.products.models import Product

    assert not Product.objects.filter(sku="LAY-1").exists()
    other.fill("textarea[name=description]", "说明")
    other.click("[data-testid=save]")
    other.wait_for_url(f"{live_server.url}/products/*/")
    assert Product.objects.filter(sku="LAY-1", description="说明").exists()
    assert errors == []
