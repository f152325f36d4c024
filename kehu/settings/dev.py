"""Developer machine: `make run`. SQLite by default, mail printed to the console.

DEBUG is off unless asked for (`DEBUG=1 make run`): the demo is shown to people who are not developers, and
Django's debug pages list every URL pattern and show tracebacks with settings to anyone who hits a 404 or 500.
"""

from .base import *  # noqa: F403
from .base import VAR_DIR, env_bool

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
VAR_DIR.mkdir(parents=True, exist_ok=True)

# serve static files from the apps directly (no collectstatic needed)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
