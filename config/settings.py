"""Reelscore settings, all read from the environment (see the README's table).

With nothing set, Reelscore runs on one machine with no servers: SQLite, a
filesystem Celery broker and media files, all under ``var/``. ``DATABASE_URL``
and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.storage import media_storage
from ml.config import ENCODER_SIZE_RULE, encoder_reads

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random string "
            "(or DEBUG=1 for local development, where a throwaway key is used)."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105 - only ever used with DEBUG on

# With DEBUG on, the project's own 404 and 500 pages are served all the same (trailers/error_pages.py);
# this brings back Django's technical pages, which list the site's URLs and show tracebacks.
TECHNICAL_ERROR_PAGES = env.bool("TECHNICAL_ERROR_PAGES", default=False)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Everything the embedded default writes: database, broker folders, media.
VAR_DIR = Path(env.str("REELSCORE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",  # the lists' filters (trailers/filters.py), and their form in the browsable API
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from this site (no CDN)
    "django_htmx",
    "trailers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "trailers.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "trailers.error_pages.CommonMiddleware",  # Django's, less the slash redirect under /api/
    "trailers.error_pages.OwnErrorPagesMiddleware",  # the project's 404/500 pages also with DEBUG on
    "trailers.error_pages.MethodNotAllowedPageMiddleware",  # a page for a visit to a button's address
    "trailers.bodies.RequestBodyMiddleware",  # a body no view can read: a 4xx with the reason (before CSRF reads forms)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "trailers.error_pages.HtmxWholePageMiddleware",  # a login redirect from htmx: the whole page goes to log in
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trailers.context_processors.reelscore",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------
# SQLite in WAL mode with a busy timeout lets the web process and a worker
# write to the same file without "database is locked" errors.
_sqlite_path = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{_sqlite_path}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests need a file (not :memory:) so that a worker process can open it too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A database that cannot be reached fails a request or a task in 10 s instead of the network's minutes
        # (DATABASE_URL's own ?connect_timeout= wins).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)

# The cache holds API throttle counters: set CACHE_URL (e.g. redis://host:6379/1) when
# several web processes serve, so they share one count.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

CSRF_FAILURE_VIEW = "trailers.error_pages.csrf_failure"  # the site's own page: "this page was out of date"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dataset"
LOGOUT_REDIRECT_URL = "login"
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=True)
# Email carries password-reset links. Without EMAIL_URL the site sends none, and the reset page says so (and how
# else to get a new password) rather than claiming a message went.
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update({k: v for k, v in env.email_url_config(EMAIL_URL).items() if v not in (None, "")})
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="reelscore@localhost")
SENDS_EMAIL = bool(EMAIL_URL)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files -------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
# The filesystem backend's folder (one shared filesystem, NFS say, when workers run on other machines);
# with STORAGE_BACKEND=s3 it is only a local folder for uploads being checked.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Where media live: STORAGE_BACKEND "filesystem" (the default: MEDIA_ROOT), "s3" (an S3-compatible object
# store through django-storages, STORAGE_S3_*: web and workers then share no folder), or a storage class's
# dotted path (config/storage.py). STORAGE_ORIGIN: where pages may load media from (presigned URLs).
_media_storage, STORAGE_ORIGIN = media_storage(os.environ)
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# How the filesystem backend's files reach browsers: "django" (the range-serving view: the embedded default),
# "x-accel-redirect" (nginx sends the file from MEDIA_ACCEL_PREFIX, an internal location) or "x-sendfile"
# (Apache's mod_xsendfile, lighttpd). Object stores always answer through presigned URLs.
MEDIA_SERVE = env.str("MEDIA_SERVE", default="django")
if MEDIA_SERVE not in ("django", "x-accel-redirect", "x-sendfile"):
    raise ImproperlyConfigured(f"MEDIA_SERVE must be django, x-accel-redirect or x-sendfile, not {MEDIA_SERVE!r}.")
MEDIA_ACCEL_PREFIX = "/" + env.str("MEDIA_ACCEL_PREFIX", default="/protected-media/").strip("/") + "/"
# A worker's local copies of what its tasks read from an object store (trailers, frames, embeddings, model
# files), least recently used first out once they pass WORKER_CACHE_MAX_BYTES; and its tasks' outputs while
# they are written, before they go up to the store.
WORKER_CACHE_DIR = Path(env.str("WORKER_CACHE_DIR", default=str(VAR_DIR / "cache")))
WORKER_CACHE_MAX_BYTES = env.int("WORKER_CACHE_MAX_BYTES", default=20 * 1024**3)
# How long a finished training run's worker waits for an object store that is away before it gives up storing
# the model file (and fails the run).
STORE_PATIENCE_SECONDS = env.int("STORE_PATIENCE_SECONDS", default=600)

# What pages may load (trailers/headers.py): scripts only from this site, never inline (styles may be:
# the pages size bars with style attributes), media and images also as blob:/data: (upload previews,
# Swagger UI's icons) and the object store's presigned URLs, no framing, forms only to this site.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    f"img-src 'self' data: blob: {STORAGE_ORIGIN}".strip(), f"media-src 'self' blob: {STORAGE_ORIGIN}".strip(),
    "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'",
])
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "camera", "microphone", "geolocation", "payment", "usb", "serial", "bluetooth", "midi", "magnetometer",
    "gyroscope", "accelerometer",
))
# Uploads stream to disk above this size instead of memory, in MEDIA_ROOT/incoming (made when first needed, so not
# FILE_UPLOAD_TEMP_DIR, which must exist wherever Django starts), never the system's temporary folder: there they
# wait while they are checked, with either storage backend.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "trailers.uploads.IncomingFileUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The largest trailer accepted, in bytes (checked before the whole file is read).
TRAILER_MAX_BYTES = env.int("TRAILER_MAX_BYTES", default=2 * 1024**3)

# --- Reelscore's own knobs -----------------------------------------------------
# Preprocessing applied to every uploaded trailer: the seed's subclip plan, 16
# frames per subclip spread evenly in time (the seed's every-45th-frame at 24 fps,
# but the same count at any frame rate), at 112x112.
REELSCORE_SAMPLING = {
    "n_subclips": env.int("SAMPLING_N_SUBCLIPS", default=3),
    "subclip_duration": env.float("SAMPLING_SUBCLIP_DURATION", default=30.0),
    "offset": env.float("SAMPLING_OFFSET", default=10.0),
    "frames_per_subclip": env.int("SAMPLING_FRAMES_PER_SUBCLIP", default=16),
    "size": env.int("SAMPLING_SIZE", default=112),
    # At each of those points, this many consecutive frames: the default model reads the motion in them.
    "snippet_frames": env.int("SAMPLING_SNIPPET_FRAMES", default=2),
}
# At preprocessing, every subclip's frames are also embedded by the frozen pretrained encoder
# (ml/encoder.py) at EMBEDDING_SIZE² (the default model's frame size), so that a run trains only
# its head on the cached embeddings. Off: runs with a pretrained encoder embed on demand.
EMBEDDINGS = env.bool("EMBEDDINGS", default=True)
EMBEDDING_ENCODER = "efficientnet_lite0"
EMBEDDING_SIZE = env.int("EMBEDDING_SIZE", default=112)
if not encoder_reads(EMBEDDING_SIZE):
    raise ImproperlyConfigured(f"EMBEDDING_SIZE must be {ENCODER_SIZE_RULE} (the encoder halves the picture five "
                               f"times), not {EMBEDDING_SIZE}.")
# A running training run whose worker has not reported for this long is shown as stale
# and is handed to the next worker by the sweep.
RUN_STALE_AFTER_SECONDS = env.int("RUN_STALE_AFTER_SECONDS", default=120)
# A run whose workers died this many times in a row without finishing an epoch (it kills them: out of memory?)
# is failed by the sweep, with the reason, instead of being handed to the next worker forever.
RUN_MAX_ATTEMPTS = env.int("RUN_MAX_ATTEMPTS", default=3)
# The same for a trailer's preprocessing (its worker beats every quarter of this): one whose worker
# died is queued again by the next sweep, its partial output removed.
PROCESSING_STALE_AFTER_SECONDS = env.int("PROCESSING_STALE_AFTER_SECONDS", default=60)
# One attempt at preprocessing a trailer may take PROCESSING_TIME_LIMIT_SECONDS plus
# PROCESSING_TIME_PER_VIDEO_SECOND for each second of the trailer, that part at most 6 h
# (Trailer.processing_time_limit): 10 min + 2 × its length, 14 min for a 2-minute trailer (a 2-minute 1080p AVI
# took 21 s on 2 cores, its browser copy included). A prefork worker kills an attempt that runs past it (a decoder
# that hangs, a share that stopped answering) and marks its trailer failed, with the reason (on a pool that
# cannot kill, the sweep marks it). A trailer whose worker died PROCESSING_MAX_ATTEMPTS times (out of memory?) is
# failed too, instead of being queued again forever.
PROCESSING_TIME_LIMIT_SECONDS = env.int("PROCESSING_TIME_LIMIT_SECONDS", default=600)
PROCESSING_TIME_PER_VIDEO_SECOND = env.float("PROCESSING_TIME_PER_VIDEO_SECOND", default=2.0)
PROCESSING_MAX_ATTEMPTS = env.int("PROCESSING_MAX_ATTEMPTS", default=3)
# Trailers in formats browsers cannot play (AVI, MPEG-TS, Matroska, ...) get an MP4 copy for the
# page's player while they are preprocessed (about 3× faster than real time for 720p on 2 cores).
BROWSER_COPIES = env.bool("BROWSER_COPIES", default=True)
# The scheduler (Celery beat) has a worker sweep this often: it hands over work that a dead worker
# or a down broker left behind (trailers/services/queue.py).
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
# Work handed to the broker this long ago and still not picked up is handed over again
# (a message lost with a killed worker); a second copy is harmless, the first to start wins.
# Trailers found `processing` this long are taken to have lost their worker.
REQUEUE_AFTER_SECONDS = env.int("REQUEUE_AFTER_SECONDS", default=1800)

# --- Celery -----------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
# "localhost" only because kombu warns of a URL without a host; the folders below are what the transport reads.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem"):
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis hands an unacknowledged message to another worker once this many seconds
    # pass. Training runs ack late and may take hours, so the default is 12 hours:
    # shorter would start a second copy of a run that is still going. A worker that
    # dies is covered sooner by the heartbeat sweep (RUN_STALE_AFTER_SECONDS).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=12 * 3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "video"
CELERY_TASK_QUEUES = (Queue("video", routing_key="video"), Queue("gpu", routing_key="gpu"))
CELERY_TASK_ROUTES = {
    "trailers.tasks.preprocess_trailer_task": {"queue": "video"},
    "trailers.tasks.embed_subclips_task": {"queue": "video"},
    "trailers.tasks.train_run_task": {"queue": "gpu"},
    "trailers.tasks.score_trailers_task": {"queue": "gpu"},
    "trailers.tasks.sweep_task": {"queue": "video"},
}
# One scheduler, Celery beat (`celery -A config beat`), sends the sweep; a video worker runs it. A sweep not
# run within its interval (every worker busy, or none up) is dropped: the next one does the same work.
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "trailers.tasks.sweep_task", "schedule": float(SWEEP_INTERVAL_SECONDS),
              "options": {"expires": float(SWEEP_INTERVAL_SECONDS)}},
}
# A task is acknowledged only when it finishes, and given back if its worker dies,
# so a killed worker's task runs again; one message at a time per process, so a
# long training run never holds a second task hostage.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How long a publish may wait for the broker before the caller gives up (the upload
# still succeeds and the sweep enqueues the work later).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "trailers.api.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": "trailers.api.metadata.ActionMetadata",  # OPTIONS: each method's own body
    # DRF's parsers, with JSON nested too deeply for the decoder refused as a 400 instead of a 500.
    "DEFAULT_PARSER_CLASSES": [
        "trailers.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "trailers.api.pagination.Pages",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "uploads": env.str("THROTTLE_UPLOADS", default="60/hour"),
        "ratings": env.str("THROTTLE_RATINGS", default="600/hour"),
        # Per client address: the login page, the admin's login and POST /api/token/ (THROTTLE_TOKEN: its name before).
        "passwords": env.str("THROTTLE_PASSWORDS", default=env.str("THROTTLE_TOKEN", default="20/minute")),
        # Per client address: accounts made on the sign-up page (each would bring fresh upload and rating budgets).
        "signups": env.str("THROTTLE_SIGNUPS", default="20/hour"),
    },
    # How many proxies before the web server add themselves to X-Forwarded-For (the shipped nginx: 1). The client
    # address the password throttle counts is the one the last of them saw; with 0 it is the connection's own, since a
    # header the client sends could name any address (and a new one each time).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# A filter's help is for the API's schema; the pages label their filters and show no help beside them.
FILTERS_DISABLE_HELP_TEXT = True
SPECTACULAR_SETTINGS = {
    "TITLE": "Reelscore API",
    "DESCRIPTION": "Upload and rate trailers, train LRCN models and read predicted ratings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the errors DRF answers with (trailers/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "trailers.api.schema.add_error_responses",
    ],
}

# --- Production hardening -------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_in_one_line": {"()": "config.logs.ClientErrorsInOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (with DEBUG on) would print every line the root's prints again.
        "django": {"handlers": [], "propagate": True},
        "django.request": {"filters": ["client_errors_in_one_line"]},
    },
}
