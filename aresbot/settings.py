"""AresBot settings: every value comes from the environment (see `.env.example`), read through `aresbot.env`."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

from aresbot.env import envbool, envfloat, envint, envlist, envstr, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# The quick start keeps its generated secrets in .env; ARESBOT_ENV_FILE="" turns the file off (the tests do).
_env_file = os.environ.get("ARESBOT_ENV_FILE", str(BASE_DIR / ".env"))
ENV_FILE = Path(_env_file) if _env_file else None
if ENV_FILE:
    load_dotenv(ENV_FILE)
# Where the quick start (`bin/run`) keeps its SQLite database and its Redis server's socket, data and log.
VAR_DIR = Path(os.environ.get("ARESBOT_VAR_DIR") or BASE_DIR / "var")

DEBUG = envbool("DEBUG", False)

# --- secrets -------------------------------------------------------------------------------------------------
_INSECURE_SECRET_KEYS = {"", "change-me", "changeme", "your_secret_key", "django-insecure"}
_DEV_SECRET_KEY = "django-insecure-aresbot-development-only"
SECRET_KEY = envstr("DJANGO_SECRET_KEY")
if SECRET_KEY in _INSECURE_SECRET_KEYS or SECRET_KEY.startswith("django-insecure"):
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is missing or a placeholder. Set it to a long random value, for example the "
            "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
elif len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters long")

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_KEY_HELP = "generate one with: openssl rand -hex 32  (or: python3 -c 'import secrets; print(secrets.token_hex(32))')"
# Only ever used with DEBUG on; `manage.py check --deploy` and the start-up check below refuse it otherwise.
DEV_ENCRYPTION_KEY = "00" * 32
ENCRYPTION_KEY = envstr("ENCRYPTION_KEY")
if not ENCRYPTION_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(f"ENCRYPTION_KEY is not set: it must be 64 hex characters (32 bytes); {_KEY_HELP}")
    print("warning: ENCRYPTION_KEY is not set; using the insecure all-zero development key", file=sys.stderr)
    ENCRYPTION_KEY = DEV_ENCRYPTION_KEY
elif not _HEX64.match(ENCRYPTION_KEY):
    raise ImproperlyConfigured(
        f"ENCRYPTION_KEY must be exactly 64 hex characters (32 bytes), got {len(ENCRYPTION_KEY)} characters; "
        + _KEY_HELP
    )
elif ENCRYPTION_KEY == DEV_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured(f"ENCRYPTION_KEY is the all-zero development key; {_KEY_HELP}")
# Keys that earlier credentials may still be encrypted with, while `manage.py rotate_encryption_key` runs.
ENCRYPTION_OLD_KEYS = envlist("ENCRYPTION_OLD_KEYS")
for _old in ENCRYPTION_OLD_KEYS:
    if not _HEX64.match(_old):
        raise ImproperlyConfigured("ENCRYPTION_OLD_KEYS must be a comma list of 64-hex-character keys")

# --- hosts -----------------------------------------------------------------------------------------------------
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS") or (["*"] if DEBUG else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# A refused CSRF check on the JSON APIs (allauth headless above all) is told in JSON, which the web app shows.
CSRF_FAILURE_VIEW = "aresbot.api.csrf_failure"
SITE_URL = envstr("SITE_URL", "http://localhost:8000").rstrip("/")
USE_X_FORWARDED_HOST = envbool("USE_X_FORWARDED_HOST", False)
if envbool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
# HTTPS only: redirect plain HTTP (behind a proxy, as X-Forwarded-Proto tells it: SECURE_PROXY_SSL) and tell
# browsers to use HTTPS for this long. The health checks and /metrics stay on HTTP for probes and scrapers inside.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health(/redis)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0, minimum=0, maximum=2 * 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.mfa",
    "allauth.headless",
    "axes",
    "aresbot",
    "accounts",
    "exchanges",
    "strategies",
    "trading",
    "notifications",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "frontend.serving.StaticFilesMiddleware",  # WhiteNoise, knowing Vite's hashed names
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The web app asks in the language its user chose (Accept-Language): Django's, DRF's and allauth's own messages
    # then come in it.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.two_factor.TwoFactorRequiredMiddleware",
    # Refuses a two-factor code from a (username, IP) pair over the failure limit (accounts/login_limits.py).
    "accounts.login_limits.SecondFactorLimitMiddleware",
    "aresbot.middleware.ApiNoStoreMiddleware",
    "aresbot.middleware.RedisUnavailableMiddleware",
    # Last: turns a sign-in refused by the failure limit into the 429 page (accounts/login_limits.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "aresbot.urls"
WSGI_APPLICATION = "aresbot.wsgi.application"
ASGI_APPLICATION = "aresbot.asgi.application"
SITE_ID = 1
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

# --- database ----------------------------------------------------------------------------------------------------
# One variable switches to MySQL/MariaDB: MYSQL_HOST. Without it, SQLite keeps the quick start dependency-free.
MYSQL_HOST = envstr("MYSQL_HOST")
if MYSQL_HOST:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": MYSQL_HOST,
            "PORT": envint("MYSQL_PORT", 3306, minimum=1, maximum=65535),
            "NAME": envstr("MYSQL_DATABASE", "aresbot"),
            "USER": envstr("MYSQL_USER", "aresbot"),
            "PASSWORD": envstr("MYSQL_PASSWORD"),
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # utf8mb4: MySQL's "utf8" is three bytes and silently rejects emoji in names and notes.
                "charset": "utf8mb4",
                # READ COMMITTED: REPEATABLE READ (the default) makes a long-running engine keep reading its
                # first snapshot, so it would not see a stop request or an edited strategy written by the API.
                "isolation_level": "read committed",
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
            },
            "TEST": {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
else:
    _sqlite_path = Path(envstr("SQLITE_PATH") or VAR_DIR / "aresbot.sqlite3")
    _sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite_path,
            # Workers and the web process share the file: wait for the writer instead of failing at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# allauth's EmailAddress has a conditional unique constraint MariaDB cannot enforce; allauth checks it itself.
SILENCED_SYSTEM_CHECKS = ["models.W036"]

# --- redis and queues --------------------------------------------------------------------------------------------
REDIS_CONNECT_TIMEOUT = envfloat("REDIS_CONNECT_TIMEOUT", 1.0, minimum=0.05, maximum=60)
REDIS_SOCKET_TIMEOUT = envfloat("REDIS_SOCKET_TIMEOUT", 1.0, minimum=0.05, maximum=60)
REDIS_URL = envstr("REDIS_URL")
if not REDIS_URL:
    _redis_password = envstr("REDIS_PASSWORD")
    _auth = f":{_redis_password}@" if _redis_password else ""
    REDIS_URL = (
        f"redis://{_auth}{envstr('REDIS_HOST', '127.0.0.1')}:{envint('REDIS_PORT', 6379, minimum=1, maximum=65535)}"
        f"/{envint('REDIS_DB', 0, minimum=0, maximum=15)}"
    )

_rq_connection = {
    "URL": REDIS_URL,
    "DEFAULT_TIMEOUT": -1,
    "REDIS_CLIENT_KWARGS": {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "health_check_interval": 30,
    },
}
RQ_QUEUES = {
    # Engines run until stopped, so the strategies queue has no job timeout (-1).
    "strategies": {**_rq_connection, "DEFAULT_TIMEOUT": -1},
    # Short control jobs (supervise, stop-without-engine), served by their own worker so that strategy
    # workers busy with engines can never starve the supervisor.
    "control": {**_rq_connection, "DEFAULT_TIMEOUT": 120},
    # Backtests (and sweep chunks) and data set downloads, on workers of their own so that they never delay an
    # engine. A job longer than this is stopped and marked failed; a year of 1-minute candles takes seconds.
    "backtests": {
        **_rq_connection,
        "DEFAULT_TIMEOUT": envint("BACKTEST_JOB_TIMEOUT", 3600, minimum=10, maximum=7 * 24 * 3600),
    },
    # Notification delivery (notifications/outbox.py): one short job per channel with messages due; its own worker,
    # so a slow chat service never delays the supervisor or an engine.
    "notify": {**_rq_connection, "DEFAULT_TIMEOUT": 120},
}
# Seconds between the notifier's passes (fan-out of new events to the outbox, delivery jobs queued).
NOTIFY_INTERVAL = envint("NOTIFY_INTERVAL", 10, minimum=1, maximum=3600)
NOTIFY_WORKERS = envint("NOTIFY_WORKERS", 1, minimum=0, maximum=16)
# Seconds a failed delivery waits before its first retry; each further failure doubles it (up to an hour).
NOTIFY_BASE_BACKOFF_SECONDS = envfloat("NOTIFY_BASE_BACKOFF_SECONDS", 10.0, minimum=0.1, maximum=3600)
RQ_SHOW_ADMIN_LINK = True

# Django's cache (allauth's rate limits, the sign-in failure counts) lives in Redis, so that every web process
# counts together; a per-process memory cache would give each gunicorn worker its own limit.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {
            "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

# Engine hosts per node (manage.py runworker, bin/run): each is one process running up to ENGINE_HOST_CAPACITY
# strategies' engines (trading/runtime/host.py). Python runs one thread at a time per process: about one host per
# CPU core.
WORKER_CONCURRENCY = envint("WORKER_CONCURRENCY", 2, minimum=1, maximum=256)
# The most engines one host runs; a full host takes no job, so another host or node does.
ENGINE_HOST_CAPACITY = envint("ENGINE_HOST_CAPACITY", 500, minimum=1, maximum=10000)
# The threads that step a host's engines, and with them its database connections (one per thread, plus one).
ENGINE_HOST_THREADS = envint("ENGINE_HOST_THREADS", 8, minimum=1, maximum=64)
# Backtest workers per node (manage.py runworker, bin/run); 0: this node runs no backtests.
BACKTEST_WORKERS = envint("BACKTEST_WORKERS", 1, minimum=0, maximum=256)
# Candle uploads for backtests: all the files of one upload together (a month of Binance 1-minute CSV is ~7 MB).
BACKTEST_UPLOAD_MAX_BYTES = envint("BACKTEST_UPLOAD_MAX_BYTES", 64 * 1024 * 1024, minimum=1024, maximum=2**34)
# The size limit of each node's cache of parsed data sets (BACKTEST_CACHE_DIR/datasets, by content hash), which
# spares repeated runs the database read and the parsing.
BACKTEST_CACHE_MAX_BYTES = envint("BACKTEST_CACHE_MAX_BYTES", 2 * 1024**3, minimum=0)
STRATEGY_STOP_POLL_INTERVAL = envfloat("STRATEGY_STOP_POLL_INTERVAL", 0.8, minimum=0.05, maximum=60)
STRATEGY_LOCK_TTL = envint("STRATEGY_LOCK_TTL", 30, minimum=3, maximum=86400)
# A running strategy whose status has not been written for this long is taken to be dead: the supervisor
# breaks its lease and starts it elsewhere, rather than waiting out the whole lease after a node dies.
STRATEGY_STALE_AFTER = envfloat("STRATEGY_STALE_AFTER", 8.0, minimum=2, maximum=3600)
# Days a strategy's events (its timeline, trading/events.py) are kept; a cron pass deletes older ones.
EVENT_RETENTION_DAYS = envint("EVENT_RETENTION_DAYS", 90, minimum=1, maximum=3650)
# Seconds between supervisor runs (the RQ cron job that restarts strategies that should run but do not).
SUPERVISE_INTERVAL = envint("SUPERVISE_INTERVAL", 3, minimum=1, maximum=300)
# The address other nodes see for this one, shown in workers:active and each strategy's status.
WORKER_IP = envstr("WORKER_IP")
# The public address exchanges see for this node's requests: Binance limits request weight per IP, so workers
# behind one NAT share one budget. Empty: every worker counts against a single shared budget (safe, slower).
EXCHANGE_OUTBOUND_IP = envstr("EXCHANGE_OUTBOUND_IP")
# Where the runtime reads the strategies it runs (trading.runtime.spec.StrategySource): named here, like
# AUTH_USER_MODEL, so that trading/ never imports the strategies app that depends on it.
STRATEGY_SOURCE = "strategies.runtime_source.OrmStrategySource"
# Where candles downloaded for backtests are kept (a month file per exchange, market and timeframe), so that later
# runs fetch only what the cache lacks (exchanges/ccxt/ohlcv.py); datasets/ holds the parsed data sets of
# trading/backtests/datasets.py.
BACKTEST_CACHE_DIR = Path(envstr("BACKTEST_CACHE_DIR") or VAR_DIR / "cache" / "candles")
# Parameter sweeps (POST /api/sweeps): the most combinations one may ask for, and the most one chunk (one RQ job on
# the backtests queue, loading its data set once) runs.
SWEEP_MAX_COMBINATIONS = envint("SWEEP_MAX_COMBINATIONS", 5000, minimum=1, maximum=1_000_000)
SWEEP_CHUNK_SIZE = envint("SWEEP_CHUNK_SIZE", 20, minimum=1, maximum=10_000)

# --- time ----------------------------------------------------------------------------------------------------------
TIME_ZONE = envstr("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"TIME_ZONE must be an IANA time zone such as UTC or Asia/Shanghai, got {TIME_ZONE!r}"
    ) from None
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
# The web app's two languages (frontend/app/src/i18n); zh-CN from a browser finds zh-hans.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]

# --- static files ----------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS: list[Path] = []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or "pytest" in sys.modules
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# A strategy or account is a few hundred bytes of JSON; anything near this is an attack or a mistake.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# --- authentication --------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a (username, IP) pair over the failure limit before any password is checked.
    "accounts.login_limits.LoginLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = True
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_QUERY_EMAIL = False
SOCIALACCOUNT_STORE_TOKENS = False

# The SPA signs in through allauth's JSON API for browsers (/_allauth/browser/v1/…): the session cookie and CSRF
# token, like the rest of the site. The server-rendered pages under /accounts/ keep working beside it. No "app"
# client: scripts use API tokens (/api/tokens), and a second kind of session token would be one more door to guard.
HEADLESS_CLIENTS = ("browser",)
HEADLESS_ADAPTER = "accounts.adapter.HeadlessAdapter"
# Where allauth sends the browser back to the SPA: a GitHub sign-in that failed before the SPA gave its own
# callback URL (the sign-in page shows the error).
HEADLESS_FRONTEND_URLS = {"socialaccount_login_error": "/sign-in"}

# Two-factor sign-in (allauth.mfa): an authenticator app (TOTP) with recovery codes as its fallback.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_ADAPTER = "accounts.adapter.MFAAdapter"  # encrypts the TOTP secrets under ENCRYPTION_KEY
MFA_TOTP_ISSUER = "AresBot"
# These accounts hold exchange keys that can trade: with MFA_REQUIRED a user without an authenticator app can reach
# only the Security page (and the sign-in pages) until they set one up; the API, tokens included, answers 403
# (accounts/two_factor.py).
MFA_REQUIRED = envbool("MFA_REQUIRED", False)

# --- email (password reset) ---------------------------------------------------------------
# Password reset by email is offered only where mail can go out: through EMAIL_HOST, or printed to the console in
# development. Otherwise the reset pages say to ask an administrator (never a 500 from an SMTP server that is not
# there).
EMAIL_HOST = envstr("EMAIL_HOST")
EMAIL_PORT = envint("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true: pick one (587: TLS, 465: SSL)")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL") or "AresBot <aresbot@localhost>"
if not EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
PASSWORD_RESET_BY_EMAIL = bool(EMAIL_HOST) or DEBUG

# Password and code guessing (accounts/login_limits.py): after LOGIN_FAILURE_LIMIT failed sign-ins (a wrong password,
# or a wrong two-factor code) of one username from one address, every door (/accounts/login/, the SPA's
# /_allauth/browser/v1/auth/login, their two-factor steps) refuses that pair for LOGIN_LOCKOUT_MINUTES, even with
# the right password or code. Counted in the Redis cache, so all web processes share the count.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A locked-out pair waits the stated time from its last counted failure; tries while locked do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "accounts.login_limits.username"
AXES_CLIENT_IP_CALLABLE = "accounts.login_limits.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.login_limits.lockout_response"
# allauth's own per-username failure limit would lock a user out from every address (anyone could do it to
# anyone); the (username, IP) limit above replaces it. Its per-address brake on failures stays.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip"}
AXES_ENABLE_ADMIN = False  # its admin pages list database records, and the cache handler writes none
# Not its start-up banner in every process (a dozen console lines per bin/run); failures and lockouts are logged.
AXES_VERBOSE = False
# The number of proxies in front of the app that append to X-Forwarded-For (nginx in docker-compose.yml: 1); the
# client address for the sign-in limits is read from that header only then, since a client can forge it.
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)

GITHUB_CLIENT_ID = envstr("GITHUB_CLIENT_ID")
GITHUB_CLIENT_SECRET = envstr("GITHUB_CLIENT_SECRET")
ALLOWED_GITHUB_USERS = [u.lower() for u in envlist("ALLOWED_GITHUB_USERS")]
ALLOWED_GITHUB_ORGS = [o.lower() for o in envlist("ALLOWED_GITHUB_ORGS")]
_github: dict[str, object] = {
    # read:org lets the allow-list see private organisation membership.
    "SCOPE": ["read:user", "read:org"],
}
if envstr("GITHUB_URL"):  # GitHub Enterprise Server
    _github["GITHUB_URL"] = envstr("GITHUB_URL")
if GITHUB_CLIENT_ID:
    _github["APP"] = {"client_id": GITHUB_CLIENT_ID, "secret": GITHUB_CLIENT_SECRET, "key": ""}
SOCIALACCOUNT_PROVIDERS = {"github": _github}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous call gets 401 with a WWW-Authenticate header rather than a bare 403.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # With MFA_REQUIRED: 403 `mfa_required` until the user has set up an authenticator app.
        "accounts.two_factor.TwoFactorSetUp",
    ],
    "DEFAULT_PAGINATION_CLASS": "aresbot.api.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "aresbot.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "aresbot.schema.ApiSchema",
    "EXCEPTION_HANDLER": "aresbot.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AresBot API",
    "DESCRIPTION": "Grid trading: exchange accounts, strategies, trades and runtime status.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API speaks JSON; the form parsers stay for the browsable API's HTML forms, not as a contract.
    "PARSER_WHITELIST": ["aresbot.parsers.JSONParser"],
    # One name per set of values, whichever field carries it (a lot's exit_role is an order's role).
    "ENUM_NAME_OVERRIDES": {
        "SideEnum": "trading.choices.SIDE_CHOICES",
        "OrderStatusEnum": "trading.choices.ORDER_STATUS_CHOICES",
        "RoleEnum": "trading.choices.ROLE_CHOICES",
        "ExitReasonEnum": "trading.choices.EXIT_REASON_CHOICES",
        "EngineStateEnum": "trading.choices.ENGINE_STATE_CHOICES",
        "BacktestStatusEnum": "trading.choices.BACKTEST_STATUS_CHOICES",
    },
}

# --- metrics and error reporting -------------------------------------------------------------------------------
# /metrics (every web process) and each worker's metrics server (METRICS_PORT + its index; 0: none) answer only
# `Authorization: Bearer <METRICS_TOKEN>` when it is set, and only loopback/private addresses when it is not.
METRICS_TOKEN = envstr("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long (or empty: private addresses only)")
METRICS_PORT = envint("METRICS_PORT", 0, minimum=0, maximum=65535)
METRICS_ADDR = envstr("METRICS_ADDR", "0.0.0.0")  # noqa: S104 - scrapes from outside are refused without the token
# Opt-in error reporting to Sentry (or a compatible service such as GlitchTip); every event is scrubbed of secrets
# by the same redaction as the logs (aresbot/sentry.py) before it leaves the process.
SENTRY_DSN = envstr("SENTRY_DSN")
SENTRY_ENVIRONMENT = envstr("SENTRY_ENVIRONMENT", "production")
SENTRY_TRACES_SAMPLE_RATE = envfloat("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0.0, maximum=1.0)
if SENTRY_DSN:
    from aresbot.sentry import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# --- logging --------------------------------------------------------------------------------
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
# json: one JSON object per line for log shippers (aresbot.logging.JsonFormatter), scrubbed like the text lines.
LOG_FORMAT = envstr("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "routine": {"()": "aresbot.logging.RoutineLibraryLinesAreDebug"},
        "redact": {"()": "aresbot.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "aresbot.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["routine", "redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "ccxt": {"level": "WARNING"},
        # apprise's own lines can carry a channel's token (its DEBUG lines print the service's POST URL): they never
        # reach a handler. notifications/apprise_urls.py captures them per send and logs the reason scrubbed.
        "apprise": {"level": "WARNING", "handlers": [], "propagate": False},
        # its DEBUG lines name each request's path, which for a webhook or a chat bot holds the token
        "urllib3": {"level": "WARNING"},
    },
}
