"""Customer import in a real browser: upload → map → preview → run with live progress → done → the records."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kehu.customers.imports import worker
from kehu.customers.imports.models import ImportJob
from kehu.customers.models import Customer
from tests.customers.importing import csv_bytes

pytestmark = pytest.mark.e2e


def test_upload_map_preview_run_and_watch_the_progress(seeded, page, login, live_server, settings, tmp_path):
    # no worker in the live server: the test plays the worker, batch by batch, while the page polls
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.KEHU_IMPORT_BATCH = 20
    rows = [["姓名", "手机", "城市", "备注列"], ["<b>粗体</b>客户", "13799990000", "宁波", ""]]
    rows += [[f"浏览器导入客户{i:02d}", f"1370000{i:04d}", "杭州", ""] for i in range(58)]
    rows.insert(5, ["号码错误客户", "12345", "宁波", ""])
    path = tmp_path / "客户名单.csv"
    path.write_bytes(csv_bytes(rows, encoding="gbk"))

    login(page, "manager")
    page.click('nav a.nav-item >> text="Import"')
    page.wait_for_url(re.compile(r"/customers/imports/$"))
    page.click("[data-testid=import-new]")
    page.set_input_files("input[name=file]", str(path))
    page.click("[data-testid=upload]")

    page.wait_for_selector("[data-testid=mapping]")
    assert page.input_value("select[name=col_0]") == "name"
    assert page.input_value("select[name=col_1]") == "phone"
    assert page.input_value("select[name=col_3]") == ""  # unknown header: not imported
    page.select_option("select[name=col_3]", "notes")
    page.select_option("select[name=default_kind]", "person")
    page.click("[data-testid=save-mapping]")

    page.wait_for_selector("[data-testid=import-progress][data-status=previewing]")
    job = ImportJob.objects.get()
    assert worker.import_job_work(job.pk) == "done"
    page.wait_for_selector("[data-testid=preview]")  # the polling noticed and the page reloaded
    text = page.inner_text("[data-testid=import-progress]")
    assert "will be created: 59" in text and "errors: 1" in text
    assert "<b>粗体</b>客户" in page.inner_text("[data-testid=preview]")  # shown as text, never as markup
    assert "not a valid phone number" in page.inner_text("[data-testid=issues]")

    page.click("[data-testid=start-import]")
    page.wait_for_selector("[data-testid=import-progress][data-status=queued]")
    assert worker.import_job_work(job.pk, max_batches=1) == "paused"
    expect(page.locator("[data-testid=import-count]")).to_contain_text("20 of 60 rows")  # no eval (CSP)
    assert "created: 19" in page.inner_text("[data-testid=import-counts]")  # and the bad row 5
    assert worker.import_job_work(job.pk) == "done"
    page.wait_for_selector("[data-testid=import-progress][data-status=done]")
    assert "created: 59" in page.inner_text("[data-testid=import-counts]")
    assert "errors: 1" in page.inner_text("[data-testid=import-counts]")

    page.click("[data-testid=written-link]")
    page.wait_for_url(re.compile(r"/customers/\?import_job="))
    assert "浏览器导入客户00" in page.inner_text("[data-testid=list-table]")
    assert (
        Customer.objects.filter(name__startswith="浏览器导入客户", kind="person", city="杭州").count() == 58
    )
