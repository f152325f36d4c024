"""`kehu backup` and `kehu restore` (docs/deployment.md "Backup and restore", docs/security.md).

A backup is one file, `kehu-backup-<UTC time>.tar.gz`, holding
- `database.sqlite3` (SQLite: a copy made by SQLite's online backup API while the app runs) or
  `database.dump` (PostgreSQL: `pg_dump --format=custom`, taken in an exported snapshot);
- `media/…`: every uploaded file under MEDIA_ROOT (attachments, received emails, contract files);
- `manifest.json`: the format, Kehu's version, the database engine, the schema (every applied migration), and
  for every table its row count and a SHA-256 checksum of its rows, for every file its size and SHA-256.
  The table checksums are read from the same snapshot as the dump, so they describe exactly what it holds.

`restore` checks the archive against its manifest first, refuses a backup whose schema has migrations this
version of Kehu does not know (a backup from a newer version), replaces the database and the media folder,
compares every table and file with the manifest, and then migrates a backup from an older version forward.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from kehu.core.management.commands.migrate_to_postgres import canonical

FORMAT = 1
PREFIX = "kehu-backup-"
SUFFIX = ".tar.gz"
MANIFEST = "manifest.json"
SNAPSHOT_ALIAS = "kehu_backup_snapshot"
CHUNK = 5000

#: callables(stdout_write) run after a restore has been verified and migrated (e.g. re-applying erasures
#: recorded after the backup was taken: the privacy app's tombstones)
AFTER_RESTORE: list[Callable[[Callable[[str], None]], None]] = []


class BackupError(Exception):
    pass


# ------------------------------------------------------------------------------------------------ checksums
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tables(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def _order_by(connection: BaseDatabaseWrapper, cursor, table: str) -> str:
    pk = connection.introspection.get_primary_key_column(cursor, table)
    if pk:
        return connection.ops.quote_name(pk)
    columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
    return ", ".join(connection.ops.quote_name(c) for c in columns)


def table_checksums(connection: BaseDatabaseWrapper) -> dict[str, dict]:
    """Every table's row count and SHA-256 over its rows in key order, read raw (no model: a table of an older
    schema has the columns it had). Both sides of a restore are the same engine, so raw values compare."""
    result: dict[str, dict] = {}
    for table in _tables(connection):
        if table.startswith("sqlite_") or "_fts" in table and connection.vendor == "sqlite":
            # SQLite's own tables, and FTS5 shadow tables (rebuilt from their content table by triggers)
            continue
        digest = hashlib.sha256()
        rows = 0
        with connection.cursor() as cursor:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted} ORDER BY {_order_by(connection, cursor, table)}")  # noqa: S608 # nosec B608
            while batch := cursor.fetchmany(CHUNK):
                for row in batch:
                    rows += 1
                    digest.update("\x1f".join(canonical(v) for v in row).encode())
                    digest.update(b"\x1e")
        result[table] = {"rows": rows, "sha256": digest.hexdigest()}
    return result


def applied_migrations(connection: BaseDatabaseWrapper) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        applied: dict[str, list[str]] = {}
        for app, name in cursor.fetchall():
            applied.setdefault(app, []).append(name)
    return applied


def known_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def media_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def media_checksums(root: Path) -> dict[str, dict]:
    return {
        p.relative_to(root).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in media_files(root)
    }


# ------------------------------------------------------------------------------------------------ backup
@dataclass
class BackupResult:
    path: Path
    tables: int
    rows: int
    files: int
    pruned: list[Path]


def _sqlite_snapshot(connection: BaseDatabaseWrapper, target: Path) -> None:
    connection.ensure_connection()
    source = connection.connection  # the live sqlite3 connection: the online backup API copies consistently
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()


@contextmanager
def _sqlite_alias(path: Path) -> Iterator[BaseDatabaseWrapper]:
    config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {"timeout": 20}}
    configured = connections.configure_settings({"default": dict(config), SNAPSHOT_ALIAS: config})
    connections.settings[SNAPSHOT_ALIAS] = configured[SNAPSHOT_ALIAS]
    try:
        yield connections[SNAPSHOT_ALIAS]
    finally:
        connections[SNAPSHOT_ALIAS].close()
        del connections[SNAPSHOT_ALIAS]
        connections.settings.pop(SNAPSHOT_ALIAS, None)


def pg_env(connection: BaseDatabaseWrapper) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore, the password through the environment."""
    db = connection.settings_dict
    args = []
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _kehu_version() -> str:
    try:
        from importlib.metadata import version

        return version("kehu")
    except Exception:  # noqa: BLE001 - not installed as a package
        return "unknown"


def backup_create(
    *, directory: Path, keep: int | None = None, media: bool = True, alias: str = "default"
) -> BackupResult:
    connection = connections[alias]
    directory.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    final = directory / f"{PREFIX}{stamp}{SUFFIX}"
    if final.exists():
        raise BackupError(f"{final} exists already.")
    media_root = Path(settings.MEDIA_ROOT)
    with tempfile.TemporaryDirectory(prefix="kehu-backup-", dir=directory) as tmp:
        work = Path(tmp)
        if connection.vendor == "sqlite":
            db_name = "database.sqlite3"
            _sqlite_snapshot(connection, work / db_name)
            with _sqlite_alias(work / db_name) as snapshot:
                tables = table_checksums(snapshot)
                migrations = applied_migrations(snapshot)
        elif connection.vendor == "postgresql":
            db_name = "database.dump"
            tables, migrations = _pg_dump(connection, work / db_name)
        else:
            raise BackupError(f"Backups of {connection.vendor} databases are not supported.")
        files = media_checksums(media_root) if media else {}
        manifest = {
            "format": FORMAT,
            "kehu_version": _kehu_version(),
            "created_at": timezone.now().astimezone(dt.UTC).isoformat(),
            "engine": connection.vendor,
            "database_file": db_name,
            "database_sha256": sha256_file(work / db_name),
            "migrations": migrations,
            "tables": tables,
            "media": files,
        }
        partial = work / (final.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(data))
            archive.add(work / db_name, arcname=db_name)
            for rel in files:
                archive.add(media_root / rel, arcname=f"media/{rel}", recursive=False)
        os.replace(partial, final)
    pruned = backups_prune(directory, keep) if keep else []
    return BackupResult(
        path=final,
        tables=len(tables),
        rows=sum(t["rows"] for t in tables.values()),
        files=len(files),
        pruned=pruned,
    )


def _pg_dump(connection: BaseDatabaseWrapper, target: Path) -> tuple[dict, dict]:
    """pg_dump in a snapshot exported by our own REPEATABLE READ transaction, whose reads (checksums, the
    schema) therefore see exactly what the dump holds."""
    args, env = pg_env(connection)
    with transaction.atomic(using=connection.alias):
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        done = subprocess.run(
            [
                "pg_dump",
                *args,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                str(connection.settings_dict["NAME"]),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")
        tables = table_checksums(connection)
        migrations = applied_migrations(connection)
    return tables, migrations


def backups_prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in the directory (by the time in their names)."""
    found = sorted(p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())
    doomed = found[: max(len(found) - keep, 0)]
    for path in doomed:
        path.unlink()
    return doomed


# ------------------------------------------------------------------------------------------------ restore
@dataclass
class RestoreResult:
    tables: int
    rows: int
    files: int
    migrated: list[str]
    media_aside: Path | None


def manifest_read(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.getmember(MANIFEST)
    except KeyError:
        raise BackupError("Not a Kehu backup: it has no manifest.json.") from None
    f = archive.extractfile(member)
    if f is None:
        raise BackupError("Not a Kehu backup: its manifest is not a file.")
    manifest = json.loads(f.read().decode())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r} (this version reads {FORMAT}).")
    return manifest


def schema_check(manifest: dict) -> list[tuple[str, str]]:
    """Refuse a backup from a newer schema; return the migrations this code has that the backup lacks."""
    applied = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    known = known_migrations()
    unknown = sorted(applied - known)
    if unknown:
        listed = ", ".join(f"{app}.{name}" for app, name in unknown[:8])
        more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        raise BackupError(
            "This backup was made by a newer version of Kehu "
            f"({manifest.get('kehu_version', 'unknown')}, {manifest.get('created_at', '')}): its database has "
            f"migrations this version does not know: {listed}{more}. Install that version of Kehu (or a later "
            "one) and restore there; a database cannot be moved back to an older schema."
        )
    return sorted(known - applied)


def _safe_members(archive: tarfile.TarFile, manifest: dict) -> None:
    expected = {MANIFEST, manifest["database_file"], *(f"media/{rel}" for rel in manifest["media"])}
    for member in archive.getmembers():
        if member.isdir():
            continue
        if member.name not in expected or not member.isfile():
            raise BackupError(f"Unexpected entry in the backup: {member.name!r}.")


def restore(
    *,
    path: Path,
    replace: bool = False,
    alias: str = "default",
    write: Callable[[str], None] = print,
) -> RestoreResult:
    connection = connections[alias]
    if not path.is_file():
        raise BackupError(f"No backup at {path}.")
    media_root = Path(settings.MEDIA_ROOT)
    with tarfile.open(path, "r:gz") as archive, tempfile.TemporaryDirectory(prefix="kehu-restore-") as tmp:
        manifest = manifest_read(archive)
        if manifest["engine"] != connection.vendor:
            raise BackupError(
                f"This backup is of a {manifest['engine']} database and this Kehu runs on {connection.vendor}. "
                "Restore it on the same engine (an SQLite backup can then be moved with "
                "`kehu migrate-to-postgres`)."
            )
        newer_here = schema_check(manifest)
        _safe_members(archive, manifest)
        work = Path(tmp)
        archive.extractall(work, filter="data")
        db_file = work / manifest["database_file"]
        if sha256_file(db_file) != manifest["database_sha256"]:
            raise BackupError("The database file in the backup is damaged (its checksum does not match).")
        for rel, meta in manifest["media"].items():
            if sha256_file(work / "media" / rel) != meta["sha256"]:
                raise BackupError(
                    f"The file media/{rel} in the backup is damaged (its checksum does not match)."
                )
        if not replace and _has_data(connection):
            raise BackupError("The database already has data (users); add --replace to overwrite it.")
        write(f"database: restoring {manifest['engine']} backup of {manifest['created_at']} …")
        if connection.vendor == "sqlite":
            _sqlite_restore(connection, db_file)
        else:
            _pg_restore(connection, db_file, manifest)
        _verify_tables(connection, manifest)
        write(f"database: {len(manifest['tables'])} tables verified (row counts and checksums)")
        aside = _media_restore(work / "media", media_root, manifest)
        write(f"media: {len(manifest['media'])} files verified")
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    migrated = []
    if newer_here:
        from django.core.management import call_command

        write(f"schema: the backup is older; applying {len(newer_here)} migrations …")
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        migrated = [f"{app}.{name}" for app, name in newer_here]
    for hook in AFTER_RESTORE:
        hook(write)
    return RestoreResult(
        tables=len(manifest["tables"]),
        rows=sum(t["rows"] for t in manifest["tables"].values()),
        files=len(manifest["media"]),
        migrated=migrated,
        media_aside=aside,
    )


def _has_data(connection: BaseDatabaseWrapper) -> bool:
    if "core_user" not in _tables(connection):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM core_user)")
        return bool(cursor.fetchone()[0])


def _sqlite_restore(connection: BaseDatabaseWrapper, db_file: Path) -> None:
    """Copy the backup over the live database with the online backup API (page by page, in SQLite's own
    locking: other processes' connections see the restored database at their next statement)."""
    connection.close()
    connection.ensure_connection()
    source = sqlite3.connect(db_file)
    try:
        source.backup(connection.connection)
    finally:
        source.close()
    connection.close()


def _pg_restore(connection: BaseDatabaseWrapper, dump: Path, manifest: dict) -> None:
    """Drop the tables the backup does not have (a newer schema's, which `migrate` re-creates), then
    pg_restore --clean in one transaction. Needs the owner of the tables (the migration role)."""
    extra = [t for t in _tables(connection) if t not in manifest["tables"]]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for table in extra:
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)} CASCADE")
    connection.close()
    args, env = pg_env(connection)
    done = subprocess.run(
        [
            "pg_restore",
            *args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-2000:]}")


def _verify_tables(connection: BaseDatabaseWrapper, manifest: dict) -> None:
    now = table_checksums(connection)
    expected = manifest["tables"]
    differ = sorted(t for t in expected if now.get(t) != expected[t])
    missing = sorted(set(expected) - set(now))
    if differ or missing:
        raise BackupError("The restored database differs from the backup in: " + ", ".join(differ[:10]))


def _media_restore(source: Path, media_root: Path, manifest: dict) -> Path | None:
    """Put the backup's files in MEDIA_ROOT; the files there before are moved aside (not deleted), and the
    result is checked file by file."""
    aside = None
    if media_root.exists() and any(media_root.iterdir()):
        aside = media_root.with_name(
            media_root.name
            + ".before-restore-"
            + timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        )
        media_root.rename(aside)
    media_root.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, media_root, dirs_exist_ok=True)
    if media_checksums(media_root) != manifest["media"]:
        raise BackupError("The restored media files differ from the backup.")
    return aside
