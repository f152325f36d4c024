"""`kehu restore FILE`: put a backup back (kehu/security/backup.py). Stop the web processes and workers first."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kehu.security.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a `kehu backup` archive: the database and the uploaded files, verified against its manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the backup file (kehu-backup-….tar.gz)")
        parser.add_argument("--replace", action="store_true", help="overwrite a database that has data")

    def handle(self, *args, path, replace, **options):
        try:
            result = restore(path=Path(path), replace=replace, write=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if result.migrated:
            self.stdout.write(f"schema: migrated forward ({len(result.migrated)} migrations)")
        if result.media_aside:
            self.stdout.write(f"media: the files there before are in {result.media_aside}")
        self.stdout.write(
            self.style.SUCCESS(
                f"restored: {result.tables} tables, {result.rows} rows, {result.files} files, all verified"
            )
        )
