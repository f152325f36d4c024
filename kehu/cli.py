"""The `kehu` command: Django's management commands with Kehu's settings.

`kehu migrate`, `kehu seed_demo --customers 1000`, `kehu db_worker`, ... behave exactly like
`python manage.py <command>`; production deployments set DJANGO_SETTINGS_MODULE=kehu.settings.production.
Command names may be written with hyphens (`kehu migrate-to-postgres` is `manage.py migrate_to_postgres`).

    kehu migrate-to-postgres --from var/kehu.sqlite3 --to postgres://kehu_owner@db/kehu
    kehu backup --keep 14                       # database + uploaded files + manifest (docs/deployment.md)
    kehu restore var/backups/kehu-backup-20261203T020000Z.tar.gz --replace
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.dev")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    if args and args[0] == "migrate_to_postgres":
        # the target is the database this process runs on: --to URL stands for DATABASE_URL
        for i, arg in enumerate(args):
            if arg == "--to" and i + 1 < len(args):
                os.environ["DATABASE_URL"] = args[i + 1]
                del args[i : i + 2]
                break
            if arg.startswith("--to="):
                os.environ["DATABASE_URL"] = arg.split("=", 1)[1]
                del args[i]
                break
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu", *args])
