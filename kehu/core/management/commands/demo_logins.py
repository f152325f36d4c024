from django.core.management.base import BaseCommand

from kehu.core.demo import DEMO_PASSWORD, ROLES, USERS


class Command(BaseCommand):
    help = "Print the demo logins created by seed_demo."

    def handle(self, *args, **options):
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write("  admin      administrator (sees and configures everything)")
        for username, (display, _dept, roles, _team) in USERS.items():
            names = ", ".join(ROLES[r][0] for r in roles)
            self.stdout.write(f"  {username:<10} {display} — {names}")
        self.stdout.write("  portal@kehu.localhost   customer portal user — http://127.0.0.1:8000/portal/")
        self.stdout.write("  partner@kehu.localhost  partner portal user — http://127.0.0.1:8000/portal/")
