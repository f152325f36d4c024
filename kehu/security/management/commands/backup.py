"""`kehu backup`: the database and every uploaded file in one verified archive (kehu/security/backup.py)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kehu.security.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the uploaded files (MEDIA_ROOT) into one archive with a manifest."

    def add_arguments(self, parser):
        parser.add_argument(
            "--to",
            dest="directory",
            default=None,
            help="folder of the backups (default: KEHU_BACKUP_DIR or var/backups)",
        )
        parser.add_argument(
            "--keep", type=int, default=None, help="then delete all but the newest N backups in the folder"
        )
        parser.add_argument("--no-media", action="store_true", help="leave the uploaded files out")

    def handle(self, *args, directory, keep, no_media, **options):
        if keep is not None and keep < 1:
            raise CommandError("--keep must be 1 or more.")
        folder = Path(
            directory or getattr(settings, "KEHU_BACKUP_DIR", "") or Path(settings.VAR_DIR) / "backups"
        )
        try:
            result = backup_create(directory=folder, keep=keep, media=not no_media)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backup: {result.path} ({result.tables} tables, {result.rows} rows, {result.files} files, "
            f"{result.path.stat().st_size:,} bytes)"
        )
        for path in result.pruned:
            self.stdout.write(f"pruned: {path.name}")
