"""Settings shared by every environment. Environment-specific files import * from here.

Everything that differs between machines comes from environment variables (12-factor):
DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS, EMAIL_URL-style EMAIL_* variables, KEHU_TIME_ZONE.
"""

import datetime
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PACKAGE_DIR = BASE_DIR / "kehu"
VAR_DIR = Path(os.environ.get("KEHU_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "kehu.core",
    "kehu.ui",
    "kehu.customers",
    "kehu.products",
    "kehu.interactions",
    "kehu.sales",
    "kehu.service",
    "kehu.analytics",
    "kehu.marketing",
    "kehu.salesmgmt",
    "kehu.automation",
    "kehu.portal",
    "kehu.approvals",
    "kehu.integrations",
    "kehu.security",
    "kehu.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kehu.core.middleware.AccessRequestMiddleware",  # per-request cache of the access engine's share probe
    "kehu.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kehu.core.inputs.RejectNulMiddleware",  # NUL in a query string or form: 400 (PostgreSQL refuses NUL)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kehu.portal.middleware.PortalBoundaryMiddleware",  # portal users reach /portal/ only
    # idle and absolute session expiry, a role's required two-factor set-up, the new-device cookie
    "kehu.security.middleware.SessionSecurityMiddleware",
    "kehu.core.middleware.UserLanguageMiddleware",
    "kehu.core.middleware.LoginRequiredMiddleware",
    "kehu.core.middleware.UserTimezoneMiddleware",
    "kehu.core.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into kehu.core.signin.lockout_response
]

ROOT_URLCONF = "kehu.urls"
WSGI_APPLICATION = "kehu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kehu.ui.context_processors.shell",
            ],
            "builtins": ["kehu.ui.templatetags.kehu_ui"],
        },
    }
]


def database_from_env(default_sqlite_path: Path) -> dict:
    """DATABASE_URL wins; otherwise an embedded SQLite file in WAL mode."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    else:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite_path)}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while the task worker writes; IMMEDIATE transactions take the
        # write lock up front so two writers queue (busy timeout) instead of failing with "database is locked".
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


DATABASES = {"default": database_from_env(VAR_DIR / "kehu.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (`include=`) serve PostgreSQL; SQLite builds them without the extra columns, as intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_USER_MODEL = "core.User"
# Sign-in protection (kehu/core/signin.py): failed sign-ins counted per user name and per client address in the
# database; past the limit, locked out until the cool-off after the last failure (or an administrator unlocks).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the portal profile with the user (kehu/portal/backends.py)
    "kehu.portal.backends.AccountBackend",
]
KEHU_SIGNIN_FAILURE_LIMIT = int(os.environ.get("KEHU_SIGNIN_FAILURE_LIMIT", "5"))
KEHU_SIGNIN_COOLOFF_MINUTES = int(os.environ.get("KEHU_SIGNIN_COOLOFF_MINUTES", "15"))
KEHU_TRUSTED_PROXIES = int(os.environ.get("KEHU_TRUSTED_PROXIES", "0"))  # proxies that set X-Forwarded-For
AXES_FAILURE_LIMIT = KEHU_SIGNIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=KEHU_SIGNIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "kehu.core.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "kehu.core.signin.client_ip"
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ui:home"
LOGOUT_REDIRECT_URL = "login"
# Password policy (docs/security.md): a minimum length, not like the user's own details, not a leaked password
# (kehu/security/data/breached-passwords.txt.gz: Django's common list and the top Chinese passwords), not digits only.
KEHU_PASSWORD_MIN_LENGTH = int(os.environ.get("KEHU_PASSWORD_MIN_LENGTH", "10"))
KEHU_BREACHED_PASSWORDS_FILE = os.environ.get("KEHU_BREACHED_PASSWORDS_FILE", "")
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {
            "user_attributes": ("username", "first_name", "last_name", "email", "display_name", "phone")
        },
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": KEHU_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "kehu.security.passwords.BreachedPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions (kehu/security/middleware.py): signed out after KEHU_SESSION_IDLE_MINUTES without a request and
# KEHU_SESSION_MAX_HOURS after signing in, whatever happens (0 turns either off).
KEHU_SESSION_IDLE_MINUTES = int(os.environ.get("KEHU_SESSION_IDLE_MINUTES", "120"))
KEHU_SESSION_MAX_HOURS = int(os.environ.get("KEHU_SESSION_MAX_HOURS", "12"))
# `kehu backup` (kehu/security/backup.py, docs/deployment.md): the folder of backups when --to is not given
KEHU_BACKUP_DIR = os.environ.get("KEHU_BACKUP_DIR", "")
SESSION_COOKIE_AGE = KEHU_SESSION_MAX_HOURS * 3600 if KEHU_SESSION_MAX_HOURS else 14 * 24 * 3600

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [Path(os.environ.get("KEHU_LOCALE_DIR", PACKAGE_DIR / "locale"))]
TIME_ZONE = os.environ.get("KEHU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("KEHU_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # scoped tokens (Bearer kehu_…) and the older DRF tokens (Token <key>), ADR 0022
        "kehu.integrations.auth.ApiTokenAuthentication",
    ],
    # a scoped token's scopes and its own rate limit (kehu/integrations/throttling.py)
    "DEFAULT_THROTTLE_CLASSES": ["kehu.integrations.throttling.ApiTokenThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["kehu.core.drf.ModelAccessPermission"],
    "DEFAULT_PAGINATION_CLASS": "kehu.core.drf.KehuPagination",
    "PAGE_SIZE": 50,
    # JSON too deeply nested or with NUL characters: 400 (kehu/core/inputs.py)
    "DEFAULT_PARSER_CLASSES": [
        "kehu.core.inputs.JSONParser",
        "kehu.core.inputs.FormParser",
        "kehu.core.inputs.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "kehu.core.filters.FilterBackend",
        "kehu.core.filters.HiddenAwareOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kehu.core.drf.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kehu CRM API",
    "DESCRIPTION": "REST API of Kehu (客户). Every endpoint applies the caller's record scope; "
    "writes take the record's ETag in If-Match and answer 409 when it is stale.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "VerdictEnum": "kehu.approvals.api.VERDICTS",
        "PrivacyRequestKindEnum": "kehu.privacy.models.RequestKind",
        "PrivacyRequestChannelEnum": "kehu.privacy.models.RequestChannel",
        "PrivacyRequestStatusEnum": "kehu.privacy.models.RequestStatus",
        "LanguageEnum": "kehu.settings.base.LANGUAGES",
        "ValueSegmentEnum": "kehu.analytics.models_value.ValueSegment",
        "RfmSegmentEnum": "kehu.analytics.rfm.Segment",
        "ConsentChannelEnum": "kehu.customers.models.Channel",
        "ConsentStatusEnum": "kehu.customers.models.ConsentStatus",
        "InteractionChannelEnum": "kehu.interactions.models.InteractionChannel",
        "TaskStatusEnum": "kehu.interactions.models.TaskStatus",
        "UnitStatusEnum": "kehu.products.models.UnitStatus",
        "DuplicateStatusEnum": "kehu.customers.models.DuplicateCandidate.Status",
        "ConsentMethodEnum": "kehu.customers.models.ConsentMethod",
        "CustomerKindEnum": "kehu.customers.models.Kind",
        "LeadSourceEnum": "kehu.sales.models.LeadSource",
        "LeadStatusEnum": "kehu.sales.models.LeadStatus",
        "DisqualifyReasonEnum": "kehu.sales.models.DisqualifyReason",
        "TimeframeEnum": "kehu.sales.models.Timeframe",
        "AssignmentMethodEnum": "kehu.sales.models.AssignmentMethod",
        "StageKindEnum": "kehu.sales.models.StageKind",
        "CloseReasonKindEnum": "kehu.sales.models.CloseKind",
        "QuoteStatusEnum": "kehu.sales.models.QuoteStatus",
        "ApprovalDecisionEnum": "kehu.sales.models.ApprovalDecision",
        "OrderStatusEnum": "kehu.sales.models.OrderStatus",
        "OrderKindEnum": "kehu.sales.models.OrderKind",
        "ApiTokenKindEnum": "kehu.integrations.models.TokenKind",
        "ContractStatusEnum": "kehu.sales.models.ContractStatus",
        "InstalmentStatusEnum": "kehu.sales.models.InstalmentStatus",
        "InvoiceStatusEnum": "kehu.sales.models.InvoiceStatus",
        "InvoiceTypeEnum": "kehu.sales.models.InvoiceType",
        "PaymentMethodEnum": "kehu.sales.models.PaymentMethod",
        "TicketStatusEnum": "kehu.service.models.TicketStatus",
        "SalesPlanPeriodKindEnum": "kehu.salesmgmt.models.PeriodKind",
        "SalesPlanStatusEnum": "kehu.salesmgmt.models.PlanStatus",
        "ActualsSourceEnum": "kehu.salesmgmt.models.ActualsSource",
        "VisitStatusEnum": "kehu.salesmgmt.models.VisitStatus",
        "TicketPriorityEnum": "kehu.service.models.TicketPriority",
        "TicketKindEnum": "kehu.service.models.TicketKind",
        "TicketChannelEnum": "kehu.service.models.TicketChannel",
        "TicketMessageKindEnum": "kehu.service.models.MessageKind",
        "DeliveryStatusEnum": "kehu.service.models.DeliveryStatus",
        "RoutingMethodEnum": "kehu.service.models.RoutingMethod",
        "WeekdayEnum": "kehu.service.models.Weekday",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kehu.core.drf.schema_error_responses",
        "kehu.integrations.schema.examples_and_headers",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Kehu CRM <noreply@localhost>")
# Where users reach Kehu: links in emails (reminders, notifications) are built on it.
KEHU_BASE_URL = os.environ.get("KEHU_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Portal (kehu/portal): how a portal user's change of their own details is applied: "request" (staff approve
# a change request) or "direct". Invitation and reset links stay valid PASSWORD_RESET_TIMEOUT (3 days).
KEHU_PORTAL_PROFILE_EDIT = os.environ.get("KEHU_PORTAL_PROFILE_EDIT", "request")
# Sales: first-contact SLA of a new lead when its assignment rule sets none, and how long before the deadline
# the owner is reminded (after it, the owner's manager is notified).
KEHU_LEAD_SLA_HOURS = int(os.environ.get("KEHU_LEAD_SLA_HOURS", "24"))
KEHU_LEAD_SLA_REMIND_MINUTES = int(os.environ.get("KEHU_LEAD_SLA_REMIND_MINUTES", "120"))
# Customer service (kehu/service, docs/deployment.md): the token in ticket email subjects ([#KH-1024]), the
# address replies come from, attachment limits (per file and per email) and allowed file types, and the
# SMTP receiver that turns mail into tickets (manage.py service_smtp).
KEHU_TICKET_TOKEN_PREFIX = os.environ.get("KEHU_TICKET_TOKEN_PREFIX", "KH")
KEHU_SERVICE_FROM_EMAIL = os.environ.get("KEHU_SERVICE_FROM_EMAIL", "") or DEFAULT_FROM_EMAIL
KEHU_SERVICE_MAIL_DOMAIN = os.environ.get("KEHU_SERVICE_MAIL_DOMAIN", "kehu.localhost")
KEHU_ATTACHMENT_MAX_BYTES = int(os.environ.get("KEHU_ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)))
KEHU_INBOUND_MAX_BYTES = int(os.environ.get("KEHU_INBOUND_MAX_BYTES", str(40 * 1024 * 1024)))
KEHU_ATTACHMENT_TYPES = env_list(
    "KEHU_ATTACHMENT_TYPES",
    "pdf,png,jpg,jpeg,gif,webp,heic,txt,csv,log,xlsx,xls,docx,doc,pptx,zip,mp4,mov,mp3,wav,amr,eml",
)
KEHU_SMTP_RECEIVER_HOST = os.environ.get("KEHU_SMTP_RECEIVER_HOST", "127.0.0.1")
KEHU_SMTP_RECEIVER_PORT = int(os.environ.get("KEHU_SMTP_RECEIVER_PORT", "2525"))
# the authserv-id of our own receiving mail server's Authentication-Results headers (SPF/DKIM/DMARC verdicts
# that email-to-ticket may trust); empty: no verdict is trusted (docs/deployment.md)
KEHU_INBOUND_AUTHSERV_ID = os.environ.get("KEHU_INBOUND_AUTHSERV_ID", "")
KEHU_TICKET_AUTOCLOSE_DAYS = int(os.environ.get("KEHU_TICKET_AUTOCLOSE_DAYS", "7"))

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag; keep default
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy of every page (kehu.core.middleware, docs/adr/0007-content-security-policy.md): scripts
# and styles only from our own files — no inline script, no eval (htmx without eval, Alpine's CSP build), no
# style attributes; images may be data: URLs (icons in CSS, charts exported by ECharts).
KEHU_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "kehu.core.logging.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("KEHU_LOG_LEVEL", "WARNING")},
}

# Navigation of the UI shell: (app label, url name, icon, label). Apps whose issues have not landed
# yet point at an "arriving" page so the shell already shows the whole front-office loop.
KEHU_NAV_PLACEHOLDERS = True

# Analytics (kehu/analytics, ADR 0011): RFM bins, CLV horizon and discount rate, the currency scored
KEHU_ANALYTICS = {
    "CURRENCY": os.environ.get("KEHU_ANALYTICS_CURRENCY", "CNY"),
    "RFM_BINS": int(os.environ.get("KEHU_RFM_BINS", "5")),
    "CLV_HORIZON_MONTHS": int(os.environ.get("KEHU_CLV_HORIZON_MONTHS", "12")),
    "CLV_ANNUAL_DISCOUNT_RATE": float(os.environ.get("KEHU_CLV_DISCOUNT_RATE", "0.10")),
}
