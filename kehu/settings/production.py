"""Production: configuration only from the environment; `manage.py check --deploy` passes clean.

Required: SECRET_KEY (50+ random characters), ALLOWED_HOSTS, DATABASE_URL (PostgreSQL recommended).
Optional: EMAIL_HOST/EMAIL_PORT/EMAIL_HOST_USER/EMAIL_HOST_PASSWORD/EMAIL_USE_TLS, CSRF_TRUSTED_ORIGINS,
KEHU_SECURE_SSL_REDIRECT=0 when TLS is terminated by a proxy that already redirects.

The production profile (docs/deployment.md, docs/adr/0021-production-profile.md):
- PostgreSQL connections come from a psycopg pool per process (KEHU_DB_POOL_MIN/MAX/TIMEOUT); KEHU_DB_POOL=0
  turns it off when a pgbouncer in transaction mode pools instead (persistent connections then, CONN_MAX_AGE).
- KEHU_REDIS_URL set: background tasks go to Redis through django-tasks' RQ backend (`manage.py rqworker`
  processes run them) and the cache is Redis (claims such as the hourly pool recycle hold across processes).
  Unset: the database backend and `manage.py db_worker`, as in `make run`. KEHU_TASKS_BACKEND=db|rq forces one.
- Logs are one JSON object per line on stderr (KEHU_LOG_FORMAT=text for plain lines).
- /healthz/ready checks the database, the queue and the workers' heartbeat; /metrics serves Prometheus text
  (KEHU_METRICS_TOKEN as a bearer token, otherwise loopback clients only).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, INSTALLED_APPS, LOGGING, MIDDLEWARE, env_bool

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment for production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("KEHU_SECURE_SSL_REDIRECT", True)
# the health and metrics endpoints answer load balancers and scrapers on plain HTTP inside the network
SECURE_REDIRECT_EXEMPT = [r"^healthz", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("KEHU_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# WhiteNoise serves hashed static files (far-future caching) pre-compressed with gzip and brotli;
# KEHU_STATIC_COMPRESS=0 skips the compression (a proxy or CDN compresses; collectstatic takes seconds, not a minute)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("KEHU_STATIC_COMPRESS", True)
        else "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
    },
}

# PostgreSQL: a connection pool per process (Django's psycopg pool support); pgbouncer instead: KEHU_DB_POOL=0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("KEHU_DB_POOL", True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django must not
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("KEHU_DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("KEHU_DB_POOL_MAX", "8")),
        "timeout": float(os.environ.get("KEHU_DB_POOL_TIMEOUT", "10")),
        "max_idle": 300,
    }

# Background tasks and cache on Redis
KEHU_REDIS_URL = os.environ.get("KEHU_REDIS_URL", "")
KEHU_TASKS_BACKEND = os.environ.get("KEHU_TASKS_BACKEND", "rq" if KEHU_REDIS_URL else "db")
if KEHU_TASKS_BACKEND not in {"rq", "db"}:
    raise ImproperlyConfigured("KEHU_TASKS_BACKEND must be rq or db.")
if KEHU_TASKS_BACKEND == "rq":
    if not KEHU_REDIS_URL:
        raise ImproperlyConfigured(
            "KEHU_TASKS_BACKEND=rq needs KEHU_REDIS_URL (e.g. redis://127.0.0.1:6379/0)."
        )
    INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]
    # imports and scoring runs take minutes at scale: an hour before RQ kills a job (KEHU_TASK_TIMEOUT)
    RQ_QUEUES = {
        "default": {
            "URL": KEHU_REDIS_URL,
            "DEFAULT_TIMEOUT": int(os.environ.get("KEHU_TASK_TIMEOUT", "3600")),
        }
    }
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
if KEHU_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": KEHU_REDIS_URL,
            "KEY_PREFIX": "kehu",
        }
    }

# Request latency histogram and a JSON access line per request (kehu/core/observability.py)
MIDDLEWARE = ["kehu.core.observability.RequestMetricsMiddleware", *MIDDLEWARE]
KEHU_METRICS_TOKEN = os.environ.get("KEHU_METRICS_TOKEN", "")
# a worker whose last heartbeat is older than this is not counted as alive by /healthz/ready
KEHU_WORKER_HEARTBEAT_MAX_AGE = int(os.environ.get("KEHU_WORKER_HEARTBEAT_MAX_AGE", "600"))

if os.environ.get("KEHU_LOG_FORMAT", "json") == "json":
    LOGGING = {
        **LOGGING,
        "formatters": {"json": {"()": "kehu.core.logging.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "json"},
        },
        "loggers": {
            "kehu.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "rq.worker": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "kehu.schedules": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
