"""PlugTrack settings, read from the environment (and a local `.env`) with django-environ.

Every variable is documented in `.env.example`.
"""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over the file: read_env only fills in what is unset.
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


def _required_secret(name: str, dev_default: str) -> str:
    """A secret that must be set in production; a fixed dev value is allowed only under DEBUG."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set and DEBUG is off. Set it in the environment or in {BASE_DIR / '.env'} "
        "(run `python -m plugtrack_site.envfile` to create a .env with fresh keys)."
    )


SECRET_KEY = _required_secret("SECRET_KEY", "django-insecure-dev-only-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

PLUGTRACK_DATA_DIR = Path(env.str("PLUGTRACK_DATA_DIR", default=str(BASE_DIR / "data")))
# Comma-separated Fernet keys, newest first: encrypt with the first, decrypt with any.
PLUGTRACK_ENCRYPTION_KEYS = env.list("PLUGTRACK_ENCRYPTION_KEYS", default=[])
if not PLUGTRACK_ENCRYPTION_KEYS and not DEBUG:
    _required_secret("PLUGTRACK_ENCRYPTION_KEYS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "cars_app",
    "sessions_app",
    "settings_app",
    "tariffs",
    "statements",
    "backups",
    "webhooks",
    "jobs",  # before django_tasks_db: its db_worker command is PlugTrack's (jobs/management/commands)
    "django_tasks",
    "django_tasks_db",
    "ninja",  # its Swagger UI page and files, served from PlugTrack's own static files (no CDN)
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "api.middleware.ApiMiddleware",  # /api/ only: a body's size before anything reads it; errors as JSON
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, before anything that would touch the session
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "plugtrack_site.middleware.AccountBusyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "plugtrack_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "plugtrack_site" / "templates"],
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

WSGI_APPLICATION = "plugtrack_site.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{PLUGTRACK_DATA_DIR / 'plugtrack.sqlite3'}"),
}
# Each web worker keeps its connection between requests (checked before reuse) instead of opening
# one per page: on PostgreSQL a new connection is a new server process. `?conn_max_age=0` in
# DATABASE_URL turns this off.
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Background work (django-tasks): the admin's imports, restores and backups run in a worker process,
# `manage.py db_worker`, which takes them from the database. A job whose worker has not written its
# progress for this long is taken to have died (its transaction never committed).
TASKS = {"default": {"BACKEND": env.str("PLUGTRACK_TASK_BACKEND", default="django_tasks_db.DatabaseBackend")}}
PLUGTRACK_JOB_STALE_SECONDS = env.float("PLUGTRACK_JOB_STALE_SECONDS", default=30)

# A cache every web worker shares (docs/deployment.md): a table in the database, made by
# `manage.py createcachetable`, so that the API's per-token limits hold across gunicorn's workers with
# no server beyond the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "plugtrack_cache"}}

# The HTTP API (docs/api.md): requests a token may make a minute, writes (POST) and reads (GET).
PLUGTRACK_API_WRITES_PER_MINUTE = env.int("PLUGTRACK_API_WRITES_PER_MINUTE", default=60)
PLUGTRACK_API_READS_PER_MINUTE = env.int("PLUGTRACK_API_READS_PER_MINUTE", default=600)

# Uploads (a sessions CSV or a backup ZIP in the admin) go to a temporary file, never memory, and
# one larger than this is refused as it arrives (plugtrack_site.uploads).
PLUGTRACK_MAX_UPLOAD_MB = env.int("PLUGTRACK_MAX_UPLOAD_MB", default=200)
FILE_UPLOAD_HANDLERS = ["plugtrack_site.uploads.LimitedUploadHandler"]

# Octopus Energy's public API, from which `tariff_prices_fetch` (and the daily fetch) read half-hourly
# prices (tariffs/octopus.py); the tests point it at a server of their own on 127.0.0.1.
PLUGTRACK_OCTOPUS_API_URL = env.str("PLUGTRACK_OCTOPUS_API_URL", default="https://api.octopus.energy/v1")

# How long an operation waits for another one on the same account (an import, a restore, a
# backup) before it gives up with a message (plugtrack_site.account_lock).
PLUGTRACK_LOCK_WAIT_SECONDS = env.float("PLUGTRACK_LOCK_WAIT_SECONDS", default=30)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # SQLite has one writer: take its lock when a transaction begins, waiting for it up to
            # the time above, rather than at the first write, where waiting cannot help.
            "transaction_mode": "IMMEDIATE",
            "timeout": PLUGTRACK_LOCK_WAIT_SECONDS,
            # Write-ahead log: readers never wait for the writer, nor the writer for readers.
            "init_command": "PRAGMA journal_mode=WAL",
        }
    )

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a login while its username and address are locked out
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True
# Dates and times written one way on every page, "7 Dec 2026 17:11" (plugtrack_site/formats, plugtrack_site/dates.py).
FORMAT_MODULE_PATH = ["plugtrack_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = PLUGTRACK_DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "plugtrack_site" / "static"]  # what every page shares (the favicon)
# Files served at the site's root as they are, by WhiteNoise: /favicon.ico, which browsers ask for by that name.
WHITENOISE_ROOT = BASE_DIR / "plugtrack_site" / "root"
# Served by WhiteNoise from STATIC_ROOT (`manage.py collectstatic`): compressed (gzip, Brotli) and named
# by their content's hash, so browsers may keep them for ever. With DEBUG on, files are served as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Off-site copies of backups (docs/backups.md, "Off the machine"): any S3-compatible storage (AWS S3,
# MinIO, Backblaze B2, Wasabi...) through django-storages, when a bucket is named.
if OFFSITE_BUCKET := env.str("PLUGTRACK_OFFSITE_S3_BUCKET", default=""):
    STORAGES["offsite"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": OFFSITE_BUCKET,
            "endpoint_url": env.str("PLUGTRACK_OFFSITE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("PLUGTRACK_OFFSITE_S3_REGION", default="") or None,
            "access_key": env.str("PLUGTRACK_OFFSITE_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("PLUGTRACK_OFFSITE_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("PLUGTRACK_OFFSITE_S3_PREFIX", default="plugtrack"),
            "addressing_style": env.str("PLUGTRACK_OFFSITE_S3_ADDRESSING", default="path"),  # path: MinIO and most
            "default_acl": None,
            "file_overwrite": True,
        },
    }

# E-mail (finalised statements sent to the addresses of a car's reimbursement profile): the SMTP server as
# a URL, e.g. smtp+tls://user:password@mail.example.org:587 (django-environ's forms). Unset: nothing is e-mailed.
if EMAIL_URL := env.str("EMAIL_URL", default=""):
    globals().update(environ.Env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="PlugTrack <plugtrack@localhost>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Security (docs/deployment.md: "Security") --------------------------------------------

# Login throttling (django-axes): after 5 failed logins for one username from one address, that
# pair is refused for 15 minutes; a successful login resets the count.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "plugtrack/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "plugtrack_site.security.client_ip"

# Behind a reverse proxy (nginx, Caddy) that terminates HTTPS: trust its X-Forwarded-Proto and
# X-Forwarded-For (the address it saw), and nothing of the kind from anyone else.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Served over HTTPS (directly or through the proxy): redirect plain HTTP, cookies only over
# HTTPS, and HSTS so that browsers never try HTTP again.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=False)

# Content-Security-Policy (django-csp): scripts, styles, images and fonts only from PlugTrack
# itself; no inline script anywhere. Inline style *attributes* are allowed (the car list colours
# its p/mi figures): an attribute cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "loggers": {"plugtrack": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")}},
}
