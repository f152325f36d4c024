"""Developer machine: `make run`. SQLite by default, DEBUG on, mail printed to the console."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env_bool

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
VAR_DIR.mkdir(parents=True, exist_ok=True)

# serve static files from the apps directly (no collectstatic needed)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
