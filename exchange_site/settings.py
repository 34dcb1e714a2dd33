"""Settings for the exchange, driven by the environment.

No environment: the embedded default (SQLite with WAL, in-memory channel layer,
local-memory cache, Celery eager). ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis.
"""

import decimal
import os
import ssl
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from exchange_site.local_secrets import local_secret

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
# Development mode: no secret and no database given means a local trial; anything
# else is treated as a deployment and must bring its own secrets.
EMBEDDED = not os.environ.get("DATABASE_URL")

# Secrets ------------------------------------------------------------------------
# A deployment brings its own; the embedded default (or DEBUG) generates random ones on
# first run and keeps them in var/secrets.json (exchange_site/local_secrets.py). No
# setting ever falls back to a constant; ``check --deploy`` flags weak values
# (exchange_site/checks.py).
LOCAL_SECRETS_FILE = Path(os.environ.get("LOCAL_SECRETS_FILE", BASE_DIR / "var" / "secrets.json"))


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if EMBEDDED or DEBUG:
        return local_secret(name, path=LOCAL_SECRETS_FILE)
    raise ImproperlyConfigured(f"{name} must be set when DATABASE_URL is set (production).")


SECRET_KEY = _secret("SECRET_KEY")
CUSTODY_WEBHOOK_SECRET = _secret("CUSTODY_WEBHOOK_SECRET")
# Encrypts the HMAC secrets of API keys at rest (apikeys/crypto.py). Optional: without it a
# deployment refuses to create HMAC keys (Ed25519 keys need no server-side secret).
API_KEY_ENCRYPTION_KEY = os.environ.get("API_KEY_ENCRYPTION_KEY", "") or (
    local_secret("API_KEY_ENCRYPTION_KEY", path=LOCAL_SECRETS_FILE) if EMBEDDED or DEBUG else ""
)

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h.strip()
]

INSTALLED_APPS = [
    "daphne",
    "exchange_site.admin_apps.ExchangeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "channels",
    "accounts",
    "wallets",
    "markets",
    "trading",
    "matching",
    "realtime",
    "apikeys",
    "binance_api",
    "status",
    "backoffice",
    "tools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "exchange_site.middleware.RejectControlCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.audit.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exchange_site.urls"
APPEND_SLASH = False

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

WSGI_APPLICATION = "exchange_site.wsgi.application"
ASGI_APPLICATION = "exchange_site.asgi.application"

# Database ---------------------------------------------------------------------
SQLITE_PATH = Path(os.environ.get("SQLITE_PATH", BASE_DIR / "var" / "exchange.sqlite3"))
# Every long-running process (web workers, the matcher, Celery) keeps its connection
# for CONN_MAX_AGE seconds, checked before reuse after an error or a restart of the
# server (CONN_HEALTH_CHECKS): opening a PostgreSQL session costs more than most queries.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=env_bool("CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the matcher writes; IMMEDIATE makes
        # writers queue on the lock instead of failing on upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not :memory:) so the real processes started by integration tests share it.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_PATH", str(BASE_DIR / "var" / "test.sqlite3"))}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# An ASGI server (daphne, the ``ws`` process) runs every request in a thread of its
# own, so Django's per-thread connections (CONN_MAX_AGE) would open a new PostgreSQL
# connection per request; a process-wide pool hands them out instead.
# exchange_site/asgi.py turns it on; the web server's threads (granian), the matcher,
# Celery and commands keep one persistent connection per thread.
DB_POOL_MAX = int(os.environ.get("DB_POOL_MAX", "0"))
if IS_POSTGRES and DB_POOL_MAX > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DB_POOL_MAX),
        "max_size": DB_POOL_MAX,
        "timeout": 10,  # seconds a request waits for a free connection before failing
        "max_idle": 300,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Money: every DecimalField in the project takes its precision from here.
MONEY_MAX_DIGITS = 36
MONEY_DECIMAL_PLACES = 18
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)
# Every amount, and every sum or product of amounts that gets stored, stays below this
# (numeric(36, 18) holds 18 integer digits); inputs that would reach it are refused.
MONEY_LIMIT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)
# 36-digit amounts need more than Decimal's default 28 significant digits; threads
# created later start from DefaultContext.
decimal.DefaultContext.prec = 80
decimal.getcontext().prec = 80

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Static files (admin, Swagger UI) come from the app itself via WhiteNoise; without a
# collectstatic run (the embedded default, tests) it finds them in the apps directly.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Redis, cache, channels, celery -----------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Internal TLS (docs/SECURITY.md, "Finding 11"). PostgreSQL takes its TLS options from
# DATABASE_URL (?sslmode=verify-full&sslrootcert=/path/ca.pem). Redis: a rediss:// URL,
# the server certificate checked against REDIS_CA_CERT (or the system's CAs), for every
# client: cache, channel layer, Celery broker and the matcher wake-up. check --deploy warns
# about plain-text connections unless INTERNAL_TLS_REQUIRED=0 (a single-host deployment).
INTERNAL_TLS_REQUIRED = env_bool("INTERNAL_TLS_REQUIRED", True)
REDIS_CA_CERT = os.environ.get("REDIS_CA_CERT", "")
REDIS_SSL_OPTIONS: dict[str, str] = {}
if REDIS_URL.startswith("rediss://"):
    REDIS_SSL_OPTIONS = {"ssl_cert_reqs": "required"}
    if REDIS_CA_CERT:
        REDIS_SSL_OPTIONS["ssl_ca_certs"] = REDIS_CA_CERT
# Pub/sub channels are shared by every database number of one Redis server: users of
# different databases (two deployments, or test runs side by side) keep their pushes and
# wake-ups apart by this namespace (empty for database 0).
_redis_db = REDIS_URL.split("?", 1)[0].rstrip("/").rpartition("/")[2] if REDIS_URL.count("/") > 2 else "0"
REDIS_PUBSUB_NAMESPACE = "" if _redis_db in ("", "0") else f"db{_redis_db}:"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "exchange_site.cache.SharedRedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis must fail fast, not hang the request (limits fail open).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1, **REDIS_SSL_OPTIONS},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: Redis pushes each message to the subscribed processes, with no
            # per-message polling round trips (docs/REALTIME.md, "Benchmark"). Nothing is
            # stored for a process that is not listening; the depth chain shows the gap.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **REDIS_SSL_OPTIONS}],
                "prefix": f"asgi{REDIS_PUBSUB_NAMESPACE}",
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    if REDIS_SSL_OPTIONS:
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": REDIS_CA_CERT or None}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# beat keeps its schedule state under var/ (gitignored), not in the working directory.
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# Every task is idempotent and beat's sweep re-runs settlement: acknowledge on receipt.
# Late acks (and kombu's ack emulation) crash the worker for good when Redis drops with
# unacknowledged messages in hand.
CELERY_TASK_ACKS_LATE = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": False}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "settlement-sweep": {"task": "wallets.tasks.settle_all_markets", "schedule": 5.0},
    "ledger-watch": {
        "task": "wallets.tasks.watch_ledger",
        "schedule": float(os.environ.get("LEDGER_WATCH_SECONDS", "300")),
    },
}

# REST framework -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.CachedUserJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["exchange_site.parsers.ExactJSONParser"],
    "EXCEPTION_HANDLER": "exchange_site.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# Trusted proxies in front of the web processes (load balancer, TLS terminator). 0: the
# client is REMOTE_ADDR and X-Forwarded-For is ignored; N: the Nth address from the
# right of X-Forwarded-For (what the proxies appended) is the client. A client-written
# header must never pick its own rate-limit bucket.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))
if NUM_PROXIES < 0:
    raise ImproperlyConfigured("NUM_PROXIES must be 0 or more.")
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

# Rate limits (see exchange_site/throttles.py); "N/s", "N/m", "N/h" or "N/d".
EXCHANGE_THROTTLE_RATES = {
    "auth_ip": os.environ.get("THROTTLE_AUTH_IP", "30/m"),
    "auth_account": os.environ.get("THROTTLE_AUTH_ACCOUNT", "10/m"),
    # Password-reset requests per target email (each sends a mail).
    "password_reset": os.environ.get("THROTTLE_PASSWORD_RESET", "5/h"),
    "trading": os.environ.get("THROTTLE_TRADING", "3000/m"),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Sessions (API login families and the admin's cookie session) --------------------------
# A login's refresh-token family is never refreshed past this many hours after the login.
SESSION_ABSOLUTE_LIFETIME_HOURS = int(os.environ.get("SESSION_ABSOLUTE_LIFETIME_HOURS", str(7 * 24)))
# The admin session ends after this many seconds without a request (only the admin uses
# cookie sessions; the API is JWT). Saved on every request so the timeout slides.
ADMIN_SESSION_SECONDS = int(os.environ.get("ADMIN_SESSION_SECONDS", "3600"))
SESSION_COOKIE_AGE = ADMIN_SESSION_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
# Approving a withdrawal or marking it sent in the admin needs a one-time password typed
# at most this many seconds earlier in the same session (0: a code on every decision).
ADMIN_FRESH_OTP_SECONDS = int(os.environ.get("ADMIN_FRESH_OTP_SECONDS", "300"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Exchange API",
    "DESCRIPTION": "Trader REST API (v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served by the exchange itself (no CDN reachable from the servers).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for buy/sell wherever it appears (order side, taker side).
    "ENUM_NAME_OVERRIDES": {
        "SideEnum": "markets.models.Order.Side",
        "OrderTypeEnum": "markets.models.Order.Type",
        "ApiKeyTypeEnum": "apikeys.models.ApiKey.Type",
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# Exchange ---------------------------------------------------------------------
FEE_ACCOUNT_EMAIL = os.environ.get("FEE_ACCOUNT_EMAIL", "fees@exchange.internal")
MATCHER_BATCH_SIZE = int(os.environ.get("MATCHER_BATCH_SIZE", "2000"))
SETTLEMENT_MAX_SEQUENCES = int(os.environ.get("SETTLEMENT_MAX_SEQUENCES", "2000"))
MATCHER_POLL_SECONDS = float(os.environ.get("MATCHER_POLL_SECONDS", "0.5"))


def _interval_ms(name: str, default: str) -> float:
    """A non-negative interval in milliseconds, at most 1 s (a larger one would stall a market)."""
    raw = os.environ.get(name, default)
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1000:  # also refuses NaN
        raise ImproperlyConfigured(f"{name} must be a number of milliseconds from 0 to 1000.")
    return value


# Under load the matcher starts batches at most this often, so orders arriving close
# together share one batch (one transaction, one publish) instead of one each; the first
# order after an idle spell still goes at once. 0: a batch as soon as there is work.
MATCHER_MIN_BATCH_INTERVAL_MS = _interval_ms("MATCHER_MIN_BATCH_INTERVAL_MS", "5")
# The matcher queues a market's settlement at most this often; batches in between are
# covered by the next run (queued once the interval has passed, also when idle).
SETTLEMENT_TRIGGER_INTERVAL_MS = _interval_ms("SETTLEMENT_TRIGGER_INTERVAL_MS", "20")


def _presence_seconds() -> tuple[float, float]:
    """WebSocket presence refresh and lifetime: positive, and a lifetime of at least two refreshes.

    A lifetime shorter than that would let a user with a live socket expire between two
    refreshes (or after one failed refresh), and the publisher would skip that user's frames.
    """
    values = []
    for name, default in (("WS_PRESENCE_REFRESH_SECONDS", "30"), ("WS_PRESENCE_TTL_SECONDS", "90")):
        try:
            value = float(os.environ.get(name, default).strip())
        except ValueError:
            value = -1.0
        if not 0 < value <= 86400:  # also refuses NaN
            raise ImproperlyConfigured(f"{name} must be a number of seconds above 0 and at most 86400.")
        values.append(value)
    refresh, ttl = values
    if ttl < 2 * refresh:
        raise ImproperlyConfigured("WS_PRESENCE_TTL_SECONDS must be at least twice WS_PRESENCE_REFRESH_SECONDS.")
    return refresh, ttl


WS_PRESENCE_REFRESH_SECONDS, WS_PRESENCE_TTL_SECONDS = _presence_seconds()
# How long PATCH /orders/{id} waits for the matcher to apply an amend before answering
# with the amend still pending.
AMEND_WAIT_SECONDS = float(os.environ.get("AMEND_WAIT_SECONDS", "5"))
# The health check (GET /api/v1/health) calls the matcher down when a market's heartbeat is
# older than this, and settlement down when a market has unsettled sequences and its
# settlement cursor has not moved for this long.
HEALTH_MATCHER_STALE_SECONDS = float(os.environ.get("HEALTH_MATCHER_STALE_SECONDS", "15"))
HEALTH_SETTLEMENT_STALE_SECONDS = float(os.environ.get("HEALTH_SETTLEMENT_STALE_SECONDS", "60"))
MATCHER_LOCK_DIR = Path(os.environ.get("MATCHER_LOCK_DIR", BASE_DIR / "var"))
# The Binance-compatible /api/v3 (binance_api/): request weight per key (or per IP for public
# endpoints) per minute, orders per key per 10 s and per day, and how long an order or a
# cancel answering RESULT/FULL waits for the matcher's committed result.
BINANCE_WEIGHT_PER_MINUTE = int(os.environ.get("BINANCE_WEIGHT_PER_MINUTE", "6000"))
BINANCE_ORDERS_PER_10S = int(os.environ.get("BINANCE_ORDERS_PER_10S", "100"))
BINANCE_ORDERS_PER_DAY = int(os.environ.get("BINANCE_ORDERS_PER_DAY", "200000"))
BINANCE_ORDER_WAIT_SECONDS = float(os.environ.get("BINANCE_ORDER_WAIT_SECONDS", "3"))
ADMIN_REQUIRE_OTP = env_bool("ADMIN_REQUIRE_OTP", True)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Exchange")


def _max_trading_fee(raw: str) -> Decimal:
    """The highest maker or taker fee rate staff may set (a fee of 1 or more would stall settlement)."""
    try:
        value = Decimal(raw)
    except decimal.InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(0) <= value <= Decimal("0.1"):
        raise ImproperlyConfigured("MAX_TRADING_FEE must be a decimal rate between 0 and 0.1.")
    return value


MAX_TRADING_FEE = _max_trading_fee(os.environ.get("MAX_TRADING_FEE", "0.01"))

# Email (trader notices, password reset; accounts/notices.py) -----------------------
# No EMAIL_HOST: mail is printed on the console (the embedded default, local trials).
# With EMAIL_HOST: SMTP, credentials from the environment only (no default password).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Exchange <no-reply@exchange.local>")
if "@" not in DEFAULT_FROM_EMAIL:
    raise ImproperlyConfigured("DEFAULT_FROM_EMAIL must be an email address.")
# Seconds an SMTP connection may hang before the sending task gives up (and retries).
EMAIL_TIMEOUT = 10
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    try:
        EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    except ValueError:
        EMAIL_PORT = 0
    if not 0 < EMAIL_PORT < 65536:
        raise ImproperlyConfigured("EMAIL_PORT must be a TCP port number (1-65535).")
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    if EMAIL_HOST_USER and not EMAIL_HOST_PASSWORD:
        raise ImproperlyConfigured("EMAIL_HOST_PASSWORD must be set when EMAIL_HOST_USER is.")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Sending a notice is retried this many times, with exponential backoff capped below.
NOTICE_MAX_RETRIES = int(os.environ.get("NOTICE_MAX_RETRIES", "5"))
NOTICE_RETRY_BACKOFF_MAX_SECONDS = 600
# A password-reset token expires after this many seconds (Django's own setting).
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", "3600"))
# Where the emailed reset link points (the front end's page reading ?token=).
PASSWORD_RESET_URL = os.environ.get("PASSWORD_RESET_URL", "http://127.0.0.1:8000/reset-password")


def _cooldown_hours(raw: str) -> int:
    """Hours before a new whitelisted address (or switching the whitelist off) takes effect."""
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise ImproperlyConfigured("WITHDRAWAL_ADDRESS_COOLDOWN_HOURS must be a whole number of hours, 0 or more.")
    return value


WITHDRAWAL_ADDRESS_COOLDOWN_HOURS = _cooldown_hours(os.environ.get("WITHDRAWAL_ADDRESS_COOLDOWN_HOURS", "24"))
# Tier withdrawal limits value every currency priced in this one (the last trade of its
# CUR-REF market) against the reference currency's limit (wallets/withdrawal_controls.py).
WITHDRAWAL_LIMIT_REFERENCE_CURRENCY = os.environ.get("WITHDRAWAL_LIMIT_REFERENCE_CURRENCY", "USDT").strip().upper()
if not WITHDRAWAL_LIMIT_REFERENCE_CURRENCY.isalnum() or len(WITHDRAWAL_LIMIT_REFERENCE_CURRENCY) > 10:
    raise ImproperlyConfigured("WITHDRAWAL_LIMIT_REFERENCE_CURRENCY must be a currency code (letters and digits).")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Security (effective behind TLS in production) ----------------------------------
if not DEBUG and not EMBEDDED:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
