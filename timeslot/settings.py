"""
Settings for Timeslot Export.

Every deployment knob comes from the environment. With none set, the service
runs in development mode on an SQLite file beside the code; production sets
DEBUG=0, SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from timeslot.log_lines import TEXT, TEXT_DEFAULTS, log_format

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", True)

# Only ever used in development; production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "django-insecure-timeslot-export-development-only-key-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY in the environment: DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    # django.contrib.admin, its site the service's own (timeslot/admin_site.py).
    "timeslot.apps.TimeslotAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver (`make run`) leaves the static files to WhiteNoise, as gunicorn does in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, served from STATIC_URL: the API's documentation page loads nothing from elsewhere.
    "drf_spectacular_sidecar",
    # The project's own deployment checks (timeslot/checks.py).
    "timeslot.apps.TimeslotConfig",
    "slots",
    "export",
]

MIDDLEWARE = [
    # First: every answer carries the request's id, and every log line written for it (timeslot/request_ids.py).
    "timeslot.request_ids.RequestIdMiddleware",
    # /healthz and /readyz, before anything reads the Host (a load balancer probes by address) or redirects.
    "timeslot.health.ProbeMiddleware",
    "timeslot.middleware.AllowedHostsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The static files, answered before the session, CSRF and the rest (https://whitenoise.readthedocs.io/).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "timeslot.middleware.LegacySecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "timeslot.middleware.CommonMiddleware",
    "timeslot.middleware.APINotFoundMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "timeslot.urls"
WSGI_APPLICATION = "timeslot.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# STATIC FILES
# ------------------------------------------------------------------------------
# The admin's and Swagger UI's files, served by the service itself (WhiteNoise): in production from what
# collectstatic wrote to STATIC_ROOT, each file's name holding its content's hash (so that browsers may keep
# it for good) beside its gzip. With DEBUG on (`make run`, the tests), the apps' files as they are, found on
# each request: no collectstatic, no manifest.
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
# WhiteNoise's defaults read DEBUG when the middleware is made, which pytest turns off: these read it here.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG

# DATABASE
# ------------------------------------------------------------------------------
# No statement runs away with a connection, and no transaction left open by a stalled client
# holds one for long (an export streams in one transaction, fetching 2,000 rows at a time).
# https://www.postgresql.org/docs/15/runtime-config-client.html
STATEMENT_TIMEOUT_MS = int(os.environ.get("STATEMENT_TIMEOUT_MS", "30000"))
IDLE_IN_TRANSACTION_TIMEOUT_MS = int(os.environ.get("IDLE_IN_TRANSACTION_TIMEOUT_MS", "60000"))
# Behind a pooler in transaction mode (PgBouncer's pool_mode = transaction), which refuses these timeouts as
# startup options: a backend of the service's that sets them as each transaction begins, and keeps server-side
# cursors inside transactions (timeslot/pooled_postgresql/base.py; README, Behind PgBouncer).
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)


def database(url: str) -> dict:
    """The settings of the database at url: its timeouts, or SQLite's locking."""
    settings_dict = dj_database_url.parse(
        url, conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")), conn_health_checks=True,
    )
    if settings_dict["ENGINE"] == "django.db.backends.postgresql" and DATABASE_TRANSACTION_POOLING:
        settings_dict["ENGINE"] = "timeslot.pooled_postgresql"
    elif settings_dict["ENGINE"] == "django.db.backends.postgresql":
        settings_dict.setdefault("OPTIONS", {})["options"] = (
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
            f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
        )
    elif settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        # One writer at a time: the others wait for the lock this long (the driver's busy timeout, in
        # seconds), then fail with "database is locked", which the API answers as 503 busy. Writers take
        # the lock as their transaction begins (timeslot/db.py). In WAL mode readers never wait for a
        # writer nor it for them, so an export streaming to a slow client holds up no import.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#database-is-locked-errors
        settings_dict.setdefault("OPTIONS", {}).update({
            "timeout": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000")) / 1000,
            "init_command": "PRAGMA journal_mode=WAL",
        })
    return settings_dict


# DATABASE_URL selects the database: postgres://user@host:port/name or
# sqlite:////absolute/path. Without it, timeslot.sqlite3 beside manage.py (git-ignored).
DATABASES = {"default": database(os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'timeslot.sqlite3'}")}
# A streaming replica of it (PostgreSQL's hot standby), read by the exports, the feeds' fetches and the admin's
# previews unless their user wrote since the point the replica has replayed to; every write, and every other
# read, goes to DATABASE_URL (timeslot/db_routers.py; README, With a read replica).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database(DATABASE_REPLICA_URL)
    # A replica that went away costs a read at most this long before it falls back to DATABASE_URL (unless the
    # URL sets its own: ?connect_timeout=<seconds>).
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    postgresql_engines = {"django.db.backends.postgresql", "timeslot.pooled_postgresql"}
    if {DATABASES[alias]["ENGINE"] for alias in DATABASES} - postgresql_engines:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs PostgreSQL, and DATABASE_URL on PostgreSQL too.")
    # The tests' replica is the test database itself, reached by a connection of its own.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["timeslot.db_routers.ReplicaRouter"]
# After the replica could not be reached, each process reads from DATABASE_URL for this long before it tries
# the replica again.
REPLICA_RETRY_SECONDS = int(os.environ.get("REPLICA_RETRY_SECONDS", "10"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# CACHE
# ------------------------------------------------------------------------------
# The throttles' counters live here, so every worker must see the same cache: Redis in production
# (REDIS_URL, e.g. redis://127.0.0.1:6379/0); without it, each process's own memory (development).
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # An unreachable Redis costs a request at most this long: the limits then let it through
            # (export/api/throttling.py, fails_open) rather than wait for the operating system's timeouts.
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# SECURITY
# ------------------------------------------------------------------------------
# The headers of the original system's response, two made stricter (docs/calendar-format.md): nothing of
# this service is meant to be framed, so DENY, as `check --deploy` asks (security.W019).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (README, Production: deploy/nginx.conf).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# DJANGO REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "timeslot.exceptions.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["export.api.authentication.LegacyTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        # DRF's, bounded in nesting depth and integer digits (export/formats/bounded_json.py).
        "export.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema at /v1/schema/ and its Swagger UI page at /v1/docs/ (export/api/schema.py documents
# each endpoint). https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Timeslot Export API",
    "DESCRIPTION": (
        "A person's Timeslot slots as files that Google Calendar, Outlook and Apple Calendar import, "
        "read back from them, and as calendar subscriptions. Errors are JSON whatever `Accept` asked for."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/v1",
    # The schema and the page describe the API; they need no token (a wrong one is no reason to hide them).
    "SERVE_AUTHENTICATION": [],
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema to an outside validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "displayRequestDuration": True},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "export.api.schema.head_operations",
        "export.api.schema.request_id_headers",
        "export.api.schema.responses_in_order",
    ],
}

# The limits on what one client address or one user may ask (export/api/throttling.py, export/api/limits.py).
# A rate is "<count>/<period>", the period one of s, min, hour, day, or a multiple of one (15min); an empty
# value switches it off.
# https://www.django-rest-framework.org/api-guide/throttling/
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    # Failed authentications (a wrong token, a wrong feed secret) per client address; past it, every
    # request from the address is refused until the period is over.
    "failed_authentication": os.environ.get("THROTTLE_FAILED_AUTH_RATE", "20/min") or None,
    # Exports and imports per user, and the full fetches of the user's feeds.
    "export": os.environ.get("THROTTLE_EXPORT_RATE", "60/min") or None,
    # Failed admin logins per username (from any address) and per client address (against any username);
    # past either, the login refuses them, the right password too, until the period is over
    # (timeslot/admin_login.py). 10 is more than an operator mistypes, 20 leaves room for a few behind one
    # office address; with 15 minutes, a password is tried at most 960 times a day.
    "admin_login_username": os.environ.get("THROTTLE_ADMIN_LOGIN_USERNAME_RATE", "10/15min") or None,
    "admin_login_address": os.environ.get("THROTTLE_ADMIN_LOGIN_ADDRESS_RATE", "20/15min") or None,
    # Feeds created, rotated or deleted per user.
    "feed_change": os.environ.get("THROTTLE_FEED_CHANGE_RATE", "60/hour") or None,
    # Fetches of one feed, whoever sends them: calendar services poll from a few shared addresses, so the
    # feed is the unit, not the address.
    "feed_fetch": os.environ.get("THROTTLE_FEED_FETCH_RATE", "10/min") or None,
}
# How many proxies of ours stand before the service, each appending the address it saw to X-Forwarded-For;
# 0: the client's address is REMOTE_ADDR and X-Forwarded-For is never read (export/api/audit.py, client_address).
REST_FRAMEWORK["NUM_PROXIES"] = int(os.environ.get("NUM_PROXIES", "0"))

# The largest request body (but uploaded files) the service reads; larger is 413 in JSON
# (timeslot/exceptions.py). Django's default, 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2621440)))

# EXPORT
# ------------------------------------------------------------------------------
# Rows fetched per round trip while streaming an export: large enough to keep
# the database busy, small enough to keep memory flat.
EXPORT_CHUNK_SIZE = int(os.environ.get("EXPORT_CHUNK_SIZE", "2000"))
# The most slots one API export or feed holds; a larger one is a 422 that names the limit. 100,000
# slots are about 56 MB of iCalendar. The export_slots command has no limit.
EXPORT_MAX_SLOTS = int(os.environ.get("EXPORT_MAX_SLOTS", "250000"))
# The most exports (and feed fetches) of one user streaming at once; one more is a 429.
EXPORT_MAX_CONCURRENT = int(os.environ.get("EXPORT_MAX_CONCURRENT", "4"))
# How long a running export's place lasts unless the stream renews it: the longest a worker that
# died mid-export keeps one of its user's places.
EXPORT_HOLD_SECONDS = int(os.environ.get("EXPORT_HOLD_SECONDS", "60"))
# The most octets of one part of a ZIP export (Accept: application/zip): Google Calendar imports files of
# about 1 MB at most. A single-file calendar over it is sent with a Timeslot-Warning.
EXPORT_PART_MAX_BYTES = int(os.environ.get("EXPORT_PART_MAX_BYTES", "1000000"))

# FEEDS
# ------------------------------------------------------------------------------
# The most feeds one user may have; one more is a 409 that names the limit.
FEED_MAX_PER_USER = int(os.environ.get("FEED_MAX_PER_USER", "50"))
# A feed's fetches write to the database at most once in this many seconds (the first fetch of each
# interval): the fetch counts waiting in the cache, and a calendar sent's export log row; 0: every fetch.
FEED_FETCH_RECORD_SECONDS = int(os.environ.get("FEED_FETCH_RECORD_SECONDS", "60"))
# A feed's calendar of at most this many bytes is kept in the cache by its version once sent whole, and a full
# fetch of the same version is answered from it (export/feed_bodies.py): a hundred devices subscribed to one
# feed have it written once. Google Calendar's budget, about 1 MB, by default; 0: every fetch writes it.
FEED_BODY_CACHED_MAX_BYTES = int(os.environ.get("FEED_BODY_CACHED_MAX_BYTES", "1000000"))
# GET /v1/feeds writes a feed's calendar to tell its bytes (then cached by its version) only while the feeds
# so written hold at most this many slots in all: a list costs at most about one export of this size.
FEED_LIST_MEASURED_SLOTS = int(os.environ.get("FEED_LIST_MEASURED_SLOTS", "20000"))

# IMPORT
# ------------------------------------------------------------------------------
# The largest file POST /v1/import and import_slots take, in bytes (64 MiB); a larger one is 413. An iCalendar
# file is read a line at a time, so what an import holds does not grow with it: this bounds its time, about
# 40 s of CPU for 64 MiB of a Google export (docs/performance.md).
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(64 * 1024 * 1024)))
# A CSV or JSON file is read whole (an iCalendar file a line at a time): the largest one taken, in bytes (5 MiB).
IMPORT_MAX_CSV_JSON_BYTES = int(os.environ.get("IMPORT_MAX_CSV_JSON_BYTES", str(5 * 1024 * 1024)))
# The most events, rows or records one import takes; more is 422.
IMPORT_MAX_RECORDS = int(os.environ.get("IMPORT_MAX_RECORDS", "40000"))
# A repeating event becomes its occurrences from this many days before the import's moment...
IMPORT_RECURRENCE_PAST_DAYS = int(os.environ.get("IMPORT_RECURRENCE_PAST_DAYS", "365"))
# ... until this many days after it.
IMPORT_RECURRENCE_FUTURE_DAYS = int(os.environ.get("IMPORT_RECURRENCE_FUTURE_DAYS", "730"))
# The most occurrences one series makes (more are left out, with a warning): a daily series needs
# 1,096 over the default window; 1,500 leaves room for its RDATEs and a second daily time.
IMPORT_MAX_OCCURRENCES_PER_SERIES = int(os.environ.get("IMPORT_MAX_OCCURRENCES_PER_SERIES", "1500"))
# The most slots one file makes, its events and their occurrences together; more is 422. At least
# IMPORT_MAX_RECORDS: a decade's Google export of 24,602 events makes 26,044 slots (docs/formats.md).
IMPORT_MAX_OCCURRENCES = int(os.environ.get("IMPORT_MAX_OCCURRENCES", "50000"))

# METRICS
# ------------------------------------------------------------------------------
# The bearer token a Prometheus scraper sends for GET /metrics (timeslot/metrics.py); unset, /metrics is a 404.
# Under gunicorn, PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself, gunicorn.conf.py) makes a scrape
# add up every worker's counts.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# LOGGING
# ------------------------------------------------------------------------------
# Every handler redacts feed secrets and API tokens from what it writes (timeslot/logs.py): Django's
# request logger writes the path of every 4xx and 5xx, and a feed's path is its secret. Each line says the
# id of the request it was written for (timeslot/request_ids.py); LOG_FORMAT=json writes one JSON object a
# line, for log shippers (timeslot/log_lines.py).
LOG_FORMAT = log_format()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "timeslot.request_ids.RequestIdFilter"},
        "redact_secrets": {"()": "timeslot.logs.RedactSecrets"},
    },
    "formatters": {
        "text": {"()": "logging.Formatter", "fmt": TEXT, "defaults": TEXT_DEFAULTS},
        "json": {"()": "timeslot.log_lines.JSONLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own console handler would print each of its lines a second time.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}
