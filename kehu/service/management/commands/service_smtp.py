"""Receive email for tickets over SMTP: `manage.py service_smtp [--host 127.0.0.1] [--port 2525]`.

Point the support addresses of your mail server at it (docs/deployment.md). Ctrl+C stops it.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the SMTP receiver that turns email into tickets."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.KEHU_SMTP_RECEIVER_HOST)
        parser.add_argument("--port", type=int, default=settings.KEHU_SMTP_RECEIVER_PORT)

    def handle(self, *args, host: str, port: int, **options):
        from kehu.service.smtpd import controller

        receiver = controller(host=host, port=port)
        receiver.start()
        self.stdout.write(f"receiving ticket email on {host}:{port}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            receiver.stop()
