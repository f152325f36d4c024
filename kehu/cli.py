"""The `kehu` command: Django's management commands with Kehu's settings.

`kehu migrate`, `kehu seed_demo --customers 1000`, `kehu db_worker`, ... behave exactly like
`python manage.py <command>`; production deployments set DJANGO_SETTINGS_MODULE=kehu.settings.production.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu", *sys.argv[1:]])
