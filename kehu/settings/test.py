"""Test settings: SQLite in memory unless DATABASE_URL points at PostgreSQL (CI runs both)."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105 # nosec B105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en"
ALLOWED_HOSTS = ["*"]

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Session expiry is off in the suite (the clock jumps days within a signed-in test); tests/security turns it on.
KEHU_SESSION_IDLE_MINUTES = 0
KEHU_SESSION_MAX_HOURS = 0
SESSION_COOKIE_AGE = 14 * 24 * 3600  # Django's default: base.py ties it to KEHU_SESSION_MAX_HOURS
