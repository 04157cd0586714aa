"""Settings shared by every environment; each value comes from the environment.

`local`, `test` and `production` import this module and change only what differs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from celery.schedules import crontab

from .env import (
    ConfigError,
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    http_url,
    instance_name,
    redis_url,
)
from .keys import refuse_published

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Two copies on one machine differ only here: the local database name (see
# local.py), the test database, and the cache, Channels and queue prefixes.
INSTANCE = instance_name()

# Off unless asked for: a debug page shows settings, tracebacks and the URL map.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
refuse_published("DJANGO_SECRET_KEY", SECRET_KEY)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "accounts",
    "tenants",
    "masking",
    "logs",
    "archival",
    "pipeline",
    "backups",
    "encryption",
    "jobs",
    "destinations",
    "alerts",
    "integrity",
    "dashboard",
]

MIDDLEWARE = [
    "auditlog_project.middleware.security_headers",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "logs.audit.admin_site_actor",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "auditlog_project.urls"
WSGI_APPLICATION = "auditlog_project.wsgi.application"
ASGI_APPLICATION = "auditlog_project.asgi.application"
AUTH_USER_MODEL = "accounts.User"

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
            ],
        },
    },
]

# --- PostgreSQL -------------------------------------------------------------
# DATABASE_URL is the runtime connection: the application role, which does not
# own the tables, so row-level security applies to it. Migrations run with
# DATABASE_OWNER_URL (see scripts/run.sh and docs/operations.md).
DATABASES = {"default": database_from_url("DATABASE_URL", env_str("DATABASE_URL"))}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Who holds which connections (docs/operations.md#connection-pooling): a WSGI
# worker keeps its one connection (CONN_MAX_AGE); the ASGI stream process,
# whose database calls run in threads that come and go, takes them from a
# pool of at most DATABASE_POOL_SIZE (psycopg_pool; 0: no pool), which needs
# DATABASE_CONN_MAX_AGE=0. In front of PostgreSQL, pgbouncer in transaction
# mode works too (client-side binding, transaction-local tenant).
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0, minimum=0)
if DATABASE_POOL_SIZE:
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ConfigError("DATABASE_POOL_SIZE needs DATABASE_CONN_MAX_AGE=0 (the pool keeps them)")
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0, minimum=0.1),
    }
DATABASES["default"]["TEST"] = {"NAME": f"test_{INSTANCE}"}
DATABASE_APP_ROLE = env_str("DATABASE_APP_ROLE", "auditlog_app")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (rate limits) and the Channels layer -----------------------
REDIS_URL = redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", INSTANCE),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# The channel layer waits STREAM_POLL_SECONDS in each blocking Redis read
# (BZPOPMIN); the Redis client's socket timeout must be longer, or every idle
# subscriber's read times out and its socket drops with 1006 (issue 9: both
# were 5 s). The timeout still bounds how long a dead Redis goes unnoticed.
STREAM_POLL_SECONDS = env_float("STREAM_POLL_SECONDS", 5.0, minimum=0.05)
STREAM_REDIS_SOCKET_TIMEOUT = env_float(
    "STREAM_REDIS_SOCKET_TIMEOUT", STREAM_POLL_SECONDS + 10, minimum=0.1
)
if STREAM_REDIS_SOCKET_TIMEOUT < STREAM_POLL_SECONDS + 0.05:
    raise ConfigError(
        "STREAM_REDIS_SOCKET_TIMEOUT must exceed STREAM_POLL_SECONDS, "
        f"got {STREAM_REDIS_SOCKET_TIMEOUT} <= {STREAM_POLL_SECONDS}"
    )
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "logs.stream.StreamChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": STREAM_REDIS_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 2,
                }
            ],
            "poll_seconds": STREAM_POLL_SECONDS,
            "prefix": env_str("CHANNELS_PREFIX", INSTANCE),
            "capacity": env_int("CHANNELS_CAPACITY", 1000, minimum=10),
            "expiry": 30,
        },
    }
}

# --- SQS through Celery -------------------------------------------------------
AWS_REGION = env_str("AWS_REGION", "us-east-1")
SQS_ENDPOINT_URL = http_url("SQS_ENDPOINT_URL", "")
SQS_QUEUE_PREFIX = env_str("SQS_QUEUE_PREFIX", f"{INSTANCE}-")
SQS_DEFAULT_QUEUE = "default"
SQS_DEAD_LETTER_SUFFIX = "-dlq"
SQS_MAX_RECEIVE_COUNT = env_int("SQS_MAX_RECEIVE_COUNT", 5, minimum=1)
SQS_VISIBILITY_TIMEOUT = env_int("SQS_VISIBILITY_TIMEOUT", 3600, minimum=30)
# Long polling: a worker's receive waits this long for a message. A receive that
# is still waiting when its worker dies can take a message nobody then runs
# until SQS_VISIBILITY_TIMEOUT; the tests' workers use 1 s (tests/processes.py).
SQS_WAIT_TIME_SECONDS = env_int("SQS_WAIT_TIME_SECONDS", 10, minimum=0)
if SQS_WAIT_TIME_SECONDS > 20:  # the most SQS allows
    raise ConfigError(f"SQS_WAIT_TIME_SECONDS must be at most 20, got {SQS_WAIT_TIME_SECONDS}")
# S3 (archive and backups) and KMS (tenant data keys): the local moto server
# answers both on the SQS endpoint, so they default to it (auditlog_project/aws.py).
S3_ENDPOINT_URL = http_url("S3_ENDPOINT_URL", SQS_ENDPOINT_URL)
KMS_ENDPOINT_URL = http_url("KMS_ENDPOINT_URL", SQS_ENDPOINT_URL)
_BUCKET_PREFIX = INSTANCE.replace("_", "-")  # bucket names allow no underscore
ARCHIVE_BUCKET = env_str("ARCHIVE_BUCKET", f"{_BUCKET_PREFIX}-archive")
BACKUP_BUCKET = env_str("BACKUP_BUCKET", f"{_BUCKET_PREFIX}-backup")
# Archive (archival/): rows per Parquet part and per row group (memory is
# bounded by one row group), rows fetched per round trip, download-link life.
ARCHIVE_PART_MAX_ROWS = env_int("ARCHIVE_PART_MAX_ROWS", 2_000_000, minimum=1)
ARCHIVE_ROW_GROUP_ROWS = env_int("ARCHIVE_ROW_GROUP_ROWS", 20_000, minimum=1)
ARCHIVE_FETCH_ROWS = env_int("ARCHIVE_FETCH_ROWS", 2_000, minimum=1)
ARCHIVE_RESTORE_BATCH_ROWS = env_int("ARCHIVE_RESTORE_BATCH_ROWS", 2_000, minimum=1)
ARCHIVE_URL_SECONDS = env_int("ARCHIVE_URL_SECONDS", 300, minimum=1)
if ARCHIVE_URL_SECONDS > 3600:
    raise ConfigError(f"ARCHIVE_URL_SECONDS must be at most 3600, got {ARCHIVE_URL_SECONDS}")
# TimescaleDB only (archival/timescale.py): compress chunks older than this.
TIMESCALE_COMPRESS_AFTER_DAYS = env_int("TIMESCALE_COMPRESS_AFTER_DAYS", 7, minimum=1)
# Backups (backups/, docs/operations.md "Backup and recovery"): dumped as the
# backup role (BYPASSRLS and read-only: the events tables FORCE row-level
# security even on their owner), restored as the owner. Empty: not configured.
DATABASE_OWNER_URL = env_str("DATABASE_OWNER_URL", "")
BACKUP_DATABASE_URL = env_str("BACKUP_DATABASE_URL", "")
for _name, _url in (
    ("DATABASE_OWNER_URL", DATABASE_OWNER_URL),
    ("BACKUP_DATABASE_URL", BACKUP_DATABASE_URL),
):
    if _url:
        database_from_url(_name, _url)  # a bad URL stops start-up
BACKUP_PREFIX = env_str("BACKUP_PREFIX", "database/")
# Scheduled backups (default: daily where BACKUP_DATABASE_URL is set, as
# settings/local.py does): one per hour or day (beat checks every BACKUP_CHECK_SECONDS;
# a period that has its backup is skipped), and their retention: a backup is
# pruned once it is neither among the newest BACKUP_KEEP_COUNT nor younger
# than BACKUP_KEEP_DAYS.
BACKUP_SCHEDULE = env_choice(
    "BACKUP_SCHEDULE", "daily" if BACKUP_DATABASE_URL else "off", {"off", "hourly", "daily"}
)
BACKUP_CHECK_SECONDS = env_int("BACKUP_CHECK_SECONDS", 900, minimum=10)
BACKUP_KEEP_COUNT = env_int("BACKUP_KEEP_COUNT", 7, minimum=1)
BACKUP_KEEP_DAYS = env_int("BACKUP_KEEP_DAYS", 7, minimum=0)
BACKUP_COMPRESSION = env_int("BACKUP_COMPRESSION", 6, minimum=0)
if BACKUP_COMPRESSION > 9:
    raise ConfigError(f"BACKUP_COMPRESSION must be 0 to 9, got {BACKUP_COMPRESSION}")

# --- Encryption at rest (encryption/, ADR 0017) ------------------------------
# The master key wraps every tenant's data keys: KMS when ENCRYPTION_KMS_KEY_ID
# is set, else ENCRYPTION_MASTER_KEY (a secret of the installation, never in the
# repository). Retired local master keys only unwrap, for `manage.py keys_rewrap`.
ENCRYPTION_ENABLED = env_bool("ENCRYPTION_ENABLED", True)  # off: benchmark comparison only
ENCRYPTION_MASTER_KEY = env_str("ENCRYPTION_MASTER_KEY", "")
if ENCRYPTION_MASTER_KEY:
    refuse_published("ENCRYPTION_MASTER_KEY", ENCRYPTION_MASTER_KEY)
ENCRYPTION_RETIRED_MASTER_KEYS = env_list("ENCRYPTION_RETIRED_MASTER_KEYS", [])
ENCRYPTION_KMS_KEY_ID = env_str("ENCRYPTION_KMS_KEY_ID", "")
ENCRYPTION_KEY_CACHE_SECONDS = env_float("ENCRYPTION_KEY_CACHE_SECONDS", 60.0, minimum=0.0)

_SQS_ENDPOINT = urlsplit(SQS_ENDPOINT_URL)
# A local (http) endpoint takes any credentials; over https (AWS itself, or a
# VPC endpoint) they come from the role, so the URL names none.
_SQS_CREDENTIALS = "local:local@" if _SQS_ENDPOINT.scheme == "http" else ""
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL",
    f"sqs://{_SQS_CREDENTIALS}{_SQS_ENDPOINT.netloc}" if SQS_ENDPOINT_URL else "sqs://",
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": AWS_REGION,
    "queue_name_prefix": SQS_QUEUE_PREFIX,
    "visibility_timeout": SQS_VISIBILITY_TIMEOUT,
    "polling_interval": 1,
    "wait_time_seconds": SQS_WAIT_TIME_SECONDS,
    "is_secure": not SQS_ENDPOINT_URL.startswith("http://"),
}
CELERY_TASK_DEFAULT_QUEUE = SQS_DEFAULT_QUEUE
CELERY_TASK_ACKS_LATE = True  # SQS is at-least-once; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Stats rollup (logs/rollup.py): how often beat refreshes dirty hours, how many
# hours one transaction recomputes (writers to those hours wait for it), and
# how many such batches one run does per tenant (the rest waits for the next run).
STATS_ROLLUP_REFRESH_SECONDS = env_int("STATS_ROLLUP_REFRESH_SECONDS", 60, minimum=1)
STATS_ROLLUP_BATCH_HOURS = env_int("STATS_ROLLUP_BATCH_HOURS", 24, minimum=1)
STATS_ROLLUP_MAX_BATCHES = env_int("STATS_ROLLUP_MAX_BATCHES", 100, minimum=1)
CELERY_BEAT_SCHEDULE: dict = {
    # Hourly, so a missed run or a new day never leaves ingest without a partition.
    "logs-partitions-create-ahead": {"task": "logs.partitions_create_ahead", "schedule": 3600.0},
    # Stats rollup freshness: dirty hours are read raw until this has run.
    "logs-stats-rollup-refresh": {
        "task": "logs.stats_rollup_refresh",
        "schedule": float(STATS_ROLLUP_REFRESH_SECONDS),
    },
    # Retention: one job per tenant a day, one SQS message per tenant and day to
    # process (archival/retention/); the sweep re-sends work whose worker died.
    "archival-retention-daily": {
        "task": "archival.retention_daily",
        "schedule": crontab(minute=30, hour=2),
    },
    # After retention's deletes: whole expired, archived (or empty) days' partitions
    # are detached and dropped (archival/retention/dropping.py).
    "archival-partitions-drop": {
        "task": "archival.partitions_drop_expired",
        "schedule": crontab(minute=30, hour=5),
    },
    "jobs-resume-stale": {"task": "archival.jobs_resume", "schedule": 300.0},
    # The dashboard's expired sessions (Django keeps them until told).
    "accounts-sessions-clear": {
        "task": "accounts.clear_sessions",
        "schedule": crontab(minute=10, hour=3),
    },
}
if BACKUP_SCHEDULE != "off":
    CELERY_BEAT_SCHEDULE["backups-scheduled"] = {
        "task": "backups.scheduled_backup",
        "schedule": float(BACKUP_CHECK_SECONDS),
    }

# --- Event pipeline (pipeline/, ADR 0014) --------------------------------------
# Announce committed batches on SQS (False: no batch rows, no messages; the
# bench's "without" run). Consumers, each with its own watermark, by dotted path.
PIPELINE_ANNOUNCE = env_bool("PIPELINE_ANNOUNCE", True)
# A process sends at most one announcement per this many seconds; the writes
# committed meanwhile share it (pipeline/announce.py).
PIPELINE_ANNOUNCE_INTERVAL = env_float("PIPELINE_ANNOUNCE_INTERVAL", 0.05, minimum=0.0)
PIPELINE_CONSUMERS = env_list(
    "PIPELINE_CONSUMERS",
    [
        "logs.search.indexer.CONSUMER",
        "alerts.evaluate.CONSUMER",
        "destinations.queueing.CONSUMER",
        "integrity.consumers.CONSUMER",
    ],
)
# One drain transaction hands a consumer at most this many batches (and about
# this many events, whole transactions); one task
# drains for at most this long before it queues a follow-up message.
PIPELINE_DRAIN_BATCHES = env_int("PIPELINE_DRAIN_BATCHES", 500, minimum=1)
PIPELINE_DRAIN_EVENTS = env_int("PIPELINE_DRAIN_EVENTS", 5000, minimum=1)
PIPELINE_DRAIN_SECONDS = env_float("PIPELINE_DRAIN_SECONDS", 20.0, minimum=0.1)
# A batch a consumer fails on this many times is dead: recorded, sent to the
# dead-letter queue, passed. Retries back off from PIPELINE_RETRY_SECONDS.
PIPELINE_MAX_ATTEMPTS = env_int("PIPELINE_MAX_ATTEMPTS", 5, minimum=1)
PIPELINE_RETRY_SECONDS = env_float("PIPELINE_RETRY_SECONDS", 5.0, minimum=0.0)
# The sweep drains without a message (lost announcements) and prunes handled
# batches older than the retention.
PIPELINE_SWEEP_SECONDS = env_float("PIPELINE_SWEEP_SECONDS", 30.0, minimum=1.0)
PIPELINE_BATCH_RETENTION_HOURS = env_int("PIPELINE_BATCH_RETENTION_HOURS", 168, minimum=0)
# Alerts: the matches rules counted, pruned once no evaluation needs them.
CELERY_BEAT_SCHEDULE["alerts-prune-matches"] = {
    "task": "alerts.prune_matches",
    "schedule": crontab(minute=50, hour=2),
}
CELERY_BEAT_SCHEDULE["pipeline-sweep"] = {
    "task": "pipeline.sweep",
    "schedule": PIPELINE_SWEEP_SECONDS,
}
# --- Log streams (destinations/) -----------------------------------------------
# The SSRF guard: https only, public addresses only. `make run` relaxes both
# (scripts/run.sh) so a receiver on this machine can be tried; production refuses that.
DESTINATIONS_REQUIRE_HTTPS = env_bool("DESTINATIONS_REQUIRE_HTTPS", True)
DESTINATIONS_ALLOW_PRIVATE = env_bool("DESTINATIONS_ALLOW_PRIVATE", False)
DESTINATIONS_MAX_PER_TENANT = env_int("DESTINATIONS_MAX_PER_TENANT", 10, minimum=1)
# One POST carries about this many events (whole queue items, at least one).
DESTINATIONS_BATCH_EVENTS = env_int("DESTINATIONS_BATCH_EVENTS", 500, minimum=1)
DESTINATIONS_TIMEOUT_SECONDS = env_float("DESTINATIONS_TIMEOUT_SECONDS", 10.0, minimum=0.1)
DESTINATIONS_DELIVER_SECONDS = env_float("DESTINATIONS_DELIVER_SECONDS", 20.0, minimum=0.1)
# Retries wait RETRY_SECONDS * 2^(failures-1), at most RETRY_MAX_SECONDS; after
# MAX_ATTEMPTS failures in a row the destination is parked.
DESTINATIONS_RETRY_SECONDS = env_float("DESTINATIONS_RETRY_SECONDS", 5.0, minimum=0.0)
DESTINATIONS_RETRY_MAX_SECONDS = env_float("DESTINATIONS_RETRY_MAX_SECONDS", 3600.0, minimum=0.0)
DESTINATIONS_MAX_ATTEMPTS = env_int("DESTINATIONS_MAX_ATTEMPTS", 8, minimum=1)
DESTINATIONS_SWEEP_SECONDS = env_float("DESTINATIONS_SWEEP_SECONDS", 30.0, minimum=1.0)
DESTINATIONS_KEEP_HOURS = env_int("DESTINATIONS_KEEP_HOURS", 168, minimum=0)
CELERY_BEAT_SCHEDULE["destinations-sweep"] = {
    "task": "destinations.sweep",
    "schedule": DESTINATIONS_SWEEP_SECONDS,
}
# Fired alerts to the rules' destinations (alerts/delivery.py): the same retry,
# attempt and timeout settings; the sweep re-queues what is due.
CELERY_BEAT_SCHEDULE["alerts-deliver-sweep"] = {
    "task": "alerts.deliver_sweep",
    "schedule": DESTINATIONS_SWEEP_SECONDS,
}
# Planner statistics of the hot partition (logs/planner.py): ANALYZE today's
# partition when this many rows changed since its last ANALYZE (or 10 %).
EVENTS_ANALYZE_SECONDS = env_float("EVENTS_ANALYZE_SECONDS", 120.0, minimum=1.0)
EVENTS_ANALYZE_MIN_ROWS = env_int("EVENTS_ANALYZE_MIN_ROWS", 5000, minimum=1)
CELERY_BEAT_SCHEDULE["logs-analyze-hot-partition"] = {
    "task": "logs.analyze_hot_partition",
    "schedule": EVENTS_ANALYZE_SECONDS,
}

# --- OpenSearch (optional search backend) ------------------------------------
OPENSEARCH_URL = http_url("OPENSEARCH_URL", "")
# Index, template and alias names start with this (several installations per cluster).
OPENSEARCH_INDEX_PREFIX = env_str("OPENSEARCH_INDEX_PREFIX", f"{INSTANCE}-")
# A search waits this long for OpenSearch before falling back to PostgreSQL.
OPENSEARCH_TIMEOUT = env_float("OPENSEARCH_TIMEOUT", 2.0, minimum=0.1)

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    # Bearer tokens for programs; the session of the dashboard's login for a
    # browser (the browsable API, the dashboard's export links), same-origin
    # requests only, CSRF checked on unsafe ones (auditlog_project/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "auditlog_project.authentication.BearerAuthentication",
        "auditlog_project.authentication.BrowserSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON first: a client that asks for nothing in particular gets JSON; a
    # browser (Accept: text/html) gets the browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "auditlog_project.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["auditlog_project.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "auditlog_project.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Audit Log API",
    "DESCRIPTION": "Multi-tenant audit log service: ingest, search, export, stream.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No call to the public validator (the page works without internet; the CSP forbids it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- JWT (RFC 8725): algorithm pinned, audience and issuer checked -----------
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", "HS256", {"HS256", "RS256"})
if JWT_ALGORITHM == "HS256":
    JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY")
    JWT_VERIFYING_KEY = ""
else:
    JWT_SIGNING_KEY = env_str("JWT_PRIVATE_KEY").replace("\\n", "\n")
    JWT_VERIFYING_KEY = env_str("JWT_PUBLIC_KEY").replace("\\n", "\n")
if JWT_ALGORITHM == "HS256" and len(JWT_SIGNING_KEY) < 32:
    raise ConfigError("JWT_SIGNING_KEY must be at least 32 characters for HS256")
refuse_published(
    "JWT_SIGNING_KEY" if JWT_ALGORITHM == "HS256" else "JWT_PRIVATE_KEY", JWT_SIGNING_KEY
)

SIMPLE_JWT = {
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "VERIFYING_KEY": JWT_VERIFYING_KEY,
    "AUDIENCE": env_str("JWT_AUDIENCE", "auditlog-api"),
    "ISSUER": env_str("JWT_ISSUER", "auditlog"),
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 10, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env_int("JWT_REFRESH_HOURS", 24, minimum=1)),
    # Rotation, reuse detection and revocation: accounts.services (token families).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": False,
    # A hash of the user's password hash in every token, compared on each request
    # and refresh: a password change ends every token at once (docs/adr/0006).
    "CHECK_REVOKE_TOKEN": True,
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}

# --- Limits -------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 16 * 1024 * 1024, minimum=1024)
BULK_MAX_EVENTS = env_int("BULK_MAX_EVENTS", 1000, minimum=1)
# Event timestamps accepted (docs/adr/0008-partitions-ahead-never-in-a-request.md):
# at most EVENTS_MAX_AGE_DAYS in the past and never older than the tenant's
# retention (tenants keep at most 36500 days, so no longer bound means anything).
EVENTS_MAX_AGE_DAYS = env_int("EVENTS_MAX_AGE_DAYS", 400, minimum=1)
if EVENTS_MAX_AGE_DAYS > 36500:
    raise ConfigError(f"EVENTS_MAX_AGE_DAYS must be at most 36500, got {EVENTS_MAX_AGE_DAYS}")
# Daily event partitions, never created by a request: the migration and every
# `migrate` create them through EVENTS_PARTITIONS_AHEAD days ahead, and so does
# the hourly beat task, one day per short transaction on its own connection,
# waiting at most EVENTS_PARTITION_LOCK_TIMEOUT_MS for a lock (then retried).
# EVENTS_PARTITIONS_BEHIND is read once, by migration 0003: days from that many
# days back get daily partitions, older ones share the history partition.
EVENTS_PARTITIONS_AHEAD = env_int("EVENTS_PARTITIONS_AHEAD", 7, minimum=1)
EVENTS_PARTITIONS_BEHIND = env_int("EVENTS_PARTITIONS_BEHIND", 1, minimum=0)
EVENTS_PARTITION_LOCK_TIMEOUT_MS = env_int("EVENTS_PARTITION_LOCK_TIMEOUT_MS", 100, minimum=1)
if EVENTS_PARTITIONS_BEHIND > EVENTS_MAX_AGE_DAYS:
    raise ConfigError("EVENTS_PARTITIONS_BEHIND must not exceed EVENTS_MAX_AGE_DAYS")
# The built-in masking rules (masking/rules.py) apply to every event before it is
# stored; off only to measure what they cost (scripts/bench). Production refuses off.
MASKING_ENABLED = env_bool("MASKING_ENABLED", True)

# --- Retention, cleanup and jobs (archival/retention/, jobs/) ------------------
# Bounds of a tenant's retention_days (a tenant admin picks within them; the
# default of 90 must lie inside). Deletion runs in chunks of RETENTION_DELETE_CHUNK
# events, each its own short transaction waiting at most RETENTION_LOCK_TIMEOUT_MS
# for a lock. A job step whose heartbeat is older than JOBS_STALE_SECONDS is
# taken over by the next worker that receives it (its worker died); failed
# messages come back after JOBS_RETRY_BACKOFF_SECONDS times the receive count.
RETENTION_MIN_DAYS = env_int("RETENTION_MIN_DAYS", 1, minimum=1)
RETENTION_MAX_DAYS = env_int("RETENTION_MAX_DAYS", 36500, minimum=1)
if not RETENTION_MIN_DAYS <= 90 <= RETENTION_MAX_DAYS <= 36500:
    raise ConfigError(
        "need RETENTION_MIN_DAYS <= 90 <= RETENTION_MAX_DAYS <= 36500, got "
        f"{RETENTION_MIN_DAYS} and {RETENTION_MAX_DAYS}"
    )
RETENTION_DELETE_CHUNK = env_int("RETENTION_DELETE_CHUNK", 5000, minimum=1)
RETENTION_LOCK_TIMEOUT_MS = env_int("RETENTION_LOCK_TIMEOUT_MS", 200, minimum=1)
JOBS_STALE_SECONDS = env_int("JOBS_STALE_SECONDS", 300, minimum=1)
JOBS_RETRY_BACKOFF_SECONDS = env_int("JOBS_RETRY_BACKOFF_SECONDS", 60, minimum=0)

# --- Static files, i18n -------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Security headers that hold in every environment -------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# The dashboard's session (programs use bearer tokens; the API also takes the
# session from same-origin browser requests): an idle browser is logged out
# after SESSION_COOKIE_AGE seconds, and at browser close; expired sessions are
# deleted daily (beat, `clearsessions`).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Lax"
# Stream-only tokens the dashboard's live tail may ask for, per user.
STREAM_TOKEN_RATE = env_rate("STREAM_TOKEN_RATE", "10/m")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"
CSRF_FAILURE_VIEW = "auditlog_project.problems.csrf_failure"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Every request runs in one transaction: the tenant set for row-level security
# is transaction-local, and a write is acknowledged only after its COMMIT.
DATABASES["default"]["ATOMIC_REQUESTS"] = True

# --- Rate limits (fixed windows in Redis; 429 with Retry-After) --------------
# auditlog_project/ratelimits.py; the defaults and the Redis-outage policy are
# explained in docs/operations.md#rate-limits. Rates are count/period.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0)
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", f"{CACHES['default']['KEY_PREFIX']}:rl")
# Bearer requests read their user and membership from a per-process cache,
# checked against Redis on every request and invalidated at once by any change
# to access (tenants/access_cache.py); an entry lives at most this long in any
# case (0: no cache, every request reads PostgreSQL).
ACCESS_CACHE_SECONDS = env_int("ACCESS_CACHE_SECONDS", 60, minimum=0)
LOGIN_RATE_PER_USERNAME = env_rate("LOGIN_RATE_PER_USERNAME", "5/m")  # failures
LOGIN_RATE_PER_IP = env_rate("LOGIN_RATE_PER_IP", "30/m")  # failures
LOGIN_ATTEMPTS_PER_IP = env_rate("LOGIN_ATTEMPTS_PER_IP", "60/m")  # every attempt
AUTHENTICATION_BACKENDS = ["auditlog_project.login_throttle.ThrottledModelBackend"]
# Per kind of request, per principal (`user`) and per tenant. Writes are high
# on purpose: one client must reach 1,000+ single events/s and bulk at full
# speed. Reads, stats and exports are where the limits bite.
RATE_LIMITS = {
    "write": {
        "user": env_rate("RATE_LIMIT_WRITE_PER_USER", "30000/10s"),
        "tenant": env_rate("RATE_LIMIT_WRITE_PER_TENANT", "60000/10s"),
    },
    "read": {
        "user": env_rate("RATE_LIMIT_READ_PER_USER", "300/10s"),
        "tenant": env_rate("RATE_LIMIT_READ_PER_TENANT", "600/10s"),
    },
    "stats": {
        "user": env_rate("RATE_LIMIT_STATS_PER_USER", "60/m"),
        "tenant": env_rate("RATE_LIMIT_STATS_PER_TENANT", "120/m"),
    },
    "export": {
        "user": env_rate("RATE_LIMIT_EXPORT_PER_USER", "10/m"),
        "tenant": env_rate("RATE_LIMIT_EXPORT_PER_TENANT", "30/m"),
    },
}
# Concurrent requests per tenant, for the kinds that hold a worker long.
CONCURRENCY_PER_TENANT = {"export": env_int("EXPORT_CONCURRENCY_PER_TENANT", 2, minimum=1)}
# A holder that is never released (its process was killed) frees its place after this.
CONCURRENCY_SLOT_TTL = env_int("CONCURRENCY_SLOT_TTL", 3600, minimum=60)
for _replaced in ("RATE_LIMIT_PER_USER", "RATE_LIMIT_PER_TENANT"):
    if env_str(_replaced, ""):
        raise ConfigError(
            f"{_replaced} is replaced by RATE_LIMIT_<KIND>_PER_USER and _PER_TENANT "
            "(KIND: WRITE, READ, STATS, EXPORT); see docs/operations.md"
        )
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["auditlog_project.ratelimits.PrincipalRateThrottle"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "RoleEnum": "tenants.choices.Role",
    "AlertConditionTypeEnum": "alerts.choices.ConditionType",
    "DestinationStateEnum": "destinations.choices.State",
    "DestinationKindEnum": "destinations.choices.Kind",
    "KindEnum": "jobs.choices.JobKind",  # its name before destinations had a kind too
}
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "auditlog_project.openapi.rate_limited_everywhere",
]

# --- Live stream --------------------------------------------------------------
# A subscriber that cannot take a message within this many seconds is closed
# (4408); until then the channel layer keeps at most CHANNELS_CAPACITY messages
# per subscriber and drops newer ones, so memory stays bounded.
STREAM_SEND_TIMEOUT = env_int("STREAM_SEND_TIMEOUT", 5, minimum=1)
# Every subscriber gets {"type": "heartbeat", "cursor": ...} this often, sent
# through Redis and back, so a dead Redis or a dead client is noticed and
# proxies see traffic; uvicorn's WebSocket pings (20 s) come on top.
STREAM_HEARTBEAT_SECONDS = env_float("STREAM_HEARTBEAT_SECONDS", 20.0, minimum=0.05)
# An open stream re-checks its token and tenant access when told that the
# user's access changed (a notice through Redis, sub-second), and on its first
# heartbeat after this many seconds in any case: the bound if a notice is lost.
STREAM_ACCESS_RECHECK_SECONDS = env_float("STREAM_ACCESS_RECHECK_SECONDS", 60.0, minimum=0.05)
# How long a change of access waits for Redis to take the streams' notice.
STREAM_NOTICE_TIMEOUT = env_float("STREAM_NOTICE_TIMEOUT", 2.0, minimum=0.05)
# A socket that has not authenticated within this grace period is closed (4401).
STREAM_AUTH_TIMEOUT = env_float("STREAM_AUTH_TIMEOUT", 5.0, minimum=0.05)
# Resume: a cursor replays the events received from (its position - OVERLAP)
# on. OVERLAP must exceed the longest time from an event's received_at to its
# COMMIT plus the delivery delay (and any clock skew between hosts); a later
# COMMIT is logged as a warning by the publisher. Replays are bounded; beyond
# the bounds the client is sent a list-API query instead (see docs).
STREAM_RESUME_OVERLAP = env_float("STREAM_RESUME_OVERLAP", 30.0, minimum=0.0)
STREAM_REPLAY_MAX_EVENTS = env_int("STREAM_REPLAY_MAX_EVENTS", 1000, minimum=1)
# GET /api/v1/logs/correlation lists at most this many events of one request or session.
CORRELATION_MAX_EVENTS = env_int("CORRELATION_MAX_EVENTS", 1000, minimum=1)
STREAM_REPLAY_MAX_AGE = env_int("STREAM_REPLAY_MAX_AGE", 3600, minimum=1)
# Concurrent subscriptions (4429 beyond): slots in Redis, refreshed by the
# heartbeat and expiring after three missed beats if a process dies.
STREAM_MAX_PER_USER = env_int("STREAM_MAX_PER_USER", 5, minimum=1)
STREAM_MAX_PER_TENANT = env_int("STREAM_MAX_PER_TENANT", 200, minimum=1)

# --- Export -------------------------------------------------------------------
# Rows fetched per round trip from the export's server-side cursor, and encoded
# per block written: memory is about one chunk, whatever the size of the export.
EXPORT_CHUNK_SIZE = env_int("EXPORT_CHUNK_SIZE", 2000, minimum=1)

# --- Integrity (integrity/, ADR 0021) -----------------------------------------
# Checkpoints are signed with an Ed25519 key derived from this secret of the
# installation (never in the repository; settings/keys.py generates it for
# `make run`). Without it leaves are sealed but no checkpoint is signed (the
# checkpoint task fails, naming the variable).
INTEGRITY_SIGNING_KEY = env_str("INTEGRITY_SIGNING_KEY", "")
if INTEGRITY_SIGNING_KEY:
    refuse_published("INTEGRITY_SIGNING_KEY", INTEGRITY_SIGNING_KEY)
# A checkpoint every INTEGRITY_CHECKPOINT_SECONDS when a tenant has new leaves,
# and as soon as this many leaves were sealed since the last one.
INTEGRITY_CHECKPOINT_SECONDS = env_float("INTEGRITY_CHECKPOINT_SECONDS", 60.0, minimum=1.0)
INTEGRITY_CHECKPOINT_EVERY = env_int("INTEGRITY_CHECKPOINT_EVERY", 10000, minimum=1)
INTEGRITY_VERIFY_SECONDS = env_float("INTEGRITY_VERIFY_SECONDS", 86400.0, minimum=60.0)
CELERY_BEAT_SCHEDULE["integrity-checkpoints"] = {
    "task": "integrity.checkpoints",
    "schedule": INTEGRITY_CHECKPOINT_SECONDS,
}
CELERY_BEAT_SCHEDULE["integrity-verify"] = {
    "task": "integrity.verify_all",
    "schedule": INTEGRITY_VERIFY_SECONDS,
}
