"""`kehu restore` re-applies the erasures recorded after the backup was taken (kehu.security.backup.AFTER_RESTORE
→ kehu.privacy.erasure.after_restore, ADR 0024): a customer erased after the backup is not brought back by the
restore. Run as a user runs it: the `kehu` command in its own processes, on an SQLite install in a folder."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
#: the suite's privacy fixtures (a default queue, the tombstone file) need the test database; the install is separate
pytestmark = pytest.mark.django_db

CLI = [sys.executable, "-c", "from kehu.cli import main; main()"]


def _run(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_an_erasure_after_the_backup_survives_the_restore(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(KEHU_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="kehu.settings.dev")
    _run(env, "migrate", "--noinput", "-v0")
    created = _run(
        env,
        "shell",
        stdin=(
            "from kehu.customers.models import Customer\n"
            "c = Customer.objects.create(name='林晓雯', phone='+8613712345678')\n"
            "print('ID', c.pk)\n"
        ),
    )
    customer_id = int(created.split("ID ")[1].split()[0])
    made = _run(env, "backup", "--no-media")
    archive = made.split("backup: ")[1].split(" (")[0]

    _run(
        env,
        "shell",
        stdin=f"from kehu.privacy.erasure import erase_customer\nerase_customer(customer_id={customer_id}, by=None)\n",
    )
    report = _run(env, "restore", "--replace", archive)
    assert "privacy: 1 erasure(s) re-applied from 1 tombstone(s)" in report, report

    db = sqlite3.connect(var / "kehu.sqlite3")
    try:
        name, phone = db.execute(
            "SELECT name, phone FROM customers_customer WHERE id = ?", [customer_id]
        ).fetchone()
    finally:
        db.close()
    assert "林晓雯" not in name and "13712345678" not in (phone or "")
