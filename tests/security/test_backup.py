"""`kehu backup` / `kehu restore` (kehu/security/backup.py): the demo install round-trips — every table (row
for row, read independently of Kehu's own checksums) and every uploaded file equal — on SQLite and on the real
PostgreSQL; a backup from a newer schema is refused with a clear message, a damaged one too, an older one is
migrated forward; `--keep N` prunes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from kehu.security import backup as backups

ROOT = Path(__file__).resolve().parent.parent.parent
CLI = [sys.executable, "-c", "from kehu.cli import main; main()"]


def _run(env: dict, *args: str) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _env(var: Path, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(KEHU_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="kehu.settings.dev")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _digest(rows) -> str:
    return hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()


def sqlite_state(path: Path) -> dict[str, tuple[int, str]]:
    """Every table of the file (FTS tables and their shadow tables included): row count and a hash of its rows."""
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        state = {}
        for name in names:
            if name.startswith("sqlite_"):
                continue
            rows = db.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608
            state[name] = (len(rows), _digest(rows))
        return state
    finally:
        db.close()


def _mutate_and_break_media(var: Path) -> None:
    media = var / "media"
    victim = next(p for p in sorted(media.rglob("*")) if p.is_file())
    victim.unlink()
    (media / "after-backup.txt").write_text("written after the backup")


def _prepare_install(env: dict, var: Path) -> None:
    _run(env, "migrate", "--noinput", "-v0")
    _run(env, "seed_demo", "--customers", "20")
    media = var / "media"
    (media / "service" / "inbound").mkdir(parents=True, exist_ok=True)
    (media / "service" / "inbound" / "mail-1.eml").write_bytes(
        b"Subject: \xe5\xae\xa2\xe6\x88\xb7\r\n\r\nbody"
    )
    (media / "contracts" / "7").mkdir(parents=True, exist_ok=True)
    (media / "contracts" / "7" / "contract.pdf").write_bytes(bytes(range(256)) * 40)


def test_sqlite_round_trip(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite round trip runs in the SQLite run; the PostgreSQL one in the PostgreSQL run")
    var = tmp_path / "var"
    env = _env(var, None)
    _prepare_install(env, var)
    database = var / "kehu.sqlite3"
    before, files_before = sqlite_state(database), _files(var / "media")
    assert (
        before["customers_customer"][0] >= 20 and before["core_auditentry"][0] > 0 and len(files_before) > 2
    )

    made = _run(env, "backup", "--keep", "3")
    archive = Path(made.split("backup: ")[1].split(" (")[0])
    assert archive.parent == var / "backups" and archive.name.startswith("kehu-backup-")

    # the app goes on: rows change, a file goes, another comes
    db = sqlite3.connect(database)
    db.execute(
        "UPDATE customers_customer SET name = 'changed' WHERE id = (SELECT min(id) FROM customers_customer)"
    )
    db.execute("DELETE FROM core_notification")
    db.execute("INSERT INTO core_tag (name, color) VALUES ('after-backup', '#000000')")
    db.commit()
    db.close()
    _mutate_and_break_media(var)
    assert sqlite_state(database) != before

    refused = subprocess.run(
        [*CLI, "restore", str(archive)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "add --replace" in refused.stderr
    report = _run(env, "restore", "--replace", str(archive))
    assert "all verified" in report and "tables verified" in report
    assert sqlite_state(database) == before  # every table, row for row
    assert _files(var / "media") == files_before  # every file
    assert "after-backup.txt" in _files(next(var.glob("media.before-restore-*")))  # set aside, not deleted

    # a backup of an older schema (the security app not migrated yet) is migrated forward after the restore
    _run(env, "migrate", "security", "zero", "--noinput", "-v0")
    older = _run(env, "backup")
    older_archive = Path(older.split("backup: ")[1].split(" (")[0])
    _run(env, "migrate", "--noinput", "-v0")
    report = _run(env, "restore", "--replace", str(older_archive))
    assert "the backup is older" in report and "migrated forward" in report
    assert "security_loginevent" in sqlite_state(database)


@pytest.mark.django_db(transaction=True)
def test_postgresql_round_trip(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: runs in the PostgreSQL run")
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_backup_rt"
    server = {
        "host": db["HOST"],
        "port": db["PORT"],
        "user": db["USER"],
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{name}"

    def state() -> dict[str, tuple[int, str]]:
        with psycopg.connect(**server, dbname=name) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE' ORDER BY 1"
                )
            ]
            result = {}
            for table in tables:
                rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
                result[table] = (len(rows), _digest(rows))
            for (seq,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"):
                result[f"sequence {seq}"] = conn.execute(f'SELECT last_value FROM "{seq}"').fetchone()  # noqa: S608
            return result

    try:
        var = tmp_path / "var"
        env = _env(var, url)
        _prepare_install(env, var)
        before, files_before = state(), _files(var / "media")
        assert before["customers_customer"][0] >= 20 and len(files_before) > 2
        made = _run(env, "backup")
        archive = Path(made.split("backup: ")[1].split(" (")[0])
        with psycopg.connect(**server, dbname=name) as conn:
            conn.execute(
                "UPDATE customers_customer SET name = 'changed' WHERE id = (SELECT min(id) FROM customers_customer)"
            )
            conn.execute("DELETE FROM core_notification")
            conn.execute("INSERT INTO core_tag (name, color) VALUES ('after-backup', '#000000')")
            conn.execute("CREATE TABLE leftover_of_a_newer_schema (id int)")
        _mutate_and_break_media(var)
        assert state() != before
        report = _run(env, "restore", "--replace", str(archive))
        assert "all verified" in report
        assert state() == before
        assert _files(var / "media") == files_before
        # the audit trail's guard came back with the tables
        with psycopg.connect(**server, dbname=name) as conn:
            triggers = {r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        assert {"core_auditentry_no_change", "core_auditentry_no_truncate"} <= triggers
    finally:
        with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------------------------ refusals
def _archive(tmp_path: Path, manifest: dict, files: dict[str, bytes]) -> Path:
    path = tmp_path / "kehu-backup-20260101T000000Z.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {backups.MANIFEST: json.dumps(manifest).encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _manifest(**changes) -> dict:
    migrations: dict[str, list[str]] = {}
    for app, name in sorted(backups.known_migrations()):
        migrations.setdefault(app, []).append(name)
    data = b"db"
    manifest = {
        "format": backups.FORMAT,
        "kehu_version": "9.0.0",
        "created_at": "2030-01-01T00:00:00+00:00",
        "engine": connection.vendor,
        "database_file": "database.sqlite3",
        "database_sha256": hashlib.sha256(data).hexdigest(),
        "migrations": migrations,
        "tables": {},
        "media": {},
    }
    manifest.update(changes)
    return manifest


@pytest.mark.django_db
def test_a_backup_from_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    manifest = _manifest()
    manifest["migrations"]["core"].append("0099_from_the_future")
    path = _archive(tmp_path, manifest, {"database.sqlite3": b"db"})
    with pytest.raises(CommandError) as caught:
        call_command("restore", str(path), "--replace")
    message = str(caught.value)
    assert "newer version of Kehu (9.0.0" in message and "core.0099_from_the_future" in message
    assert "Install that version" in message


@pytest.mark.django_db
def test_damaged_foreign_and_unknown_backups_are_refused(tmp_path):
    damaged = _archive(tmp_path, _manifest(), {"database.sqlite3": b"not what was backed up"})
    with pytest.raises(CommandError, match="damaged"):
        call_command("restore", str(damaged), "--replace")
    other_engine = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    foreign = _archive(tmp_path, _manifest(engine=other_engine), {"database.sqlite3": b"db"})
    with pytest.raises(CommandError, match="same engine"):
        call_command("restore", str(foreign), "--replace")
    sneaky = _archive(tmp_path, _manifest(), {"database.sqlite3": b"db", "../../etc/evil": b"x"})
    with pytest.raises(CommandError, match="Unexpected entry"):
        call_command("restore", str(sneaky), "--replace")
    (tmp_path / "plain.tar.gz").write_bytes(b"")
    with tarfile.open(tmp_path / "plain.tar.gz", "w:gz"):
        pass
    with pytest.raises(CommandError, match="no manifest"):
        call_command("restore", str(tmp_path / "plain.tar.gz"))
    with pytest.raises(CommandError, match="No backup at"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))


def test_keep_prunes_the_oldest(tmp_path):
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z", "20260104T000000Z"):
        (tmp_path / f"kehu-backup-{stamp}.tar.gz").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("kept")
    pruned = backups.backups_prune(tmp_path, 2)
    assert [p.name for p in pruned] == [
        "kehu-backup-20260101T000000Z.tar.gz",
        "kehu-backup-20260102T000000Z.tar.gz",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "kehu-backup-20260103T000000Z.tar.gz",
        "kehu-backup-20260104T000000Z.tar.gz",
        "notes.txt",
    ]
    with pytest.raises(CommandError, match="--keep must be 1 or more"):
        call_command("backup", "--to", str(tmp_path), "--keep", "0")
