"""FlowGate settings.

With no environment set, FlowGate runs on embedded defaults: SQLite under var/,
the in-memory channel layer, the local-memory cache and Celery in eager mode.
DATABASE_URL switches the database to PostgreSQL; REDIS_URL switches the cache,
the channel layer and the Celery broker to Redis. Every variable is listed in
docker/.env.example and docs/configuration.md.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FLOWGATE_VAR_DIR", BASE_DIR / "var"))


def env_str(name, default=""):
    """A string from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = env_str(name, "")
    if value == "":
        return default
    return value.lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    value = env_str(name, "")
    return int(value) if value else default


def env_list(name, default):
    value = env_str(name, "")
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

# The development key is only acceptable with DEBUG on; `check --deploy` and the
# flowgate.E001 check refuse it in production.
DEV_SECRET_KEY = "dev-insecure-flowgate-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)

# Tokens (registration and OpAMP JWTs) are signed with their own key so that
# rotating the session secret does not invalidate every gateway.
JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY", "") or f"jwt:{SECRET_KEY}"
JWT_ISSUER = env_str("JWT_ISSUER", "flowgate")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Sign-in lockout (core_app/lockout.py); its attempts are counted in the cache, not in its tables.
    "axes",
    # The tenancy core, still labelled "flowgate_site" (tables, migrations, permissions, admin URLs: core_app/apps.py);
    # the project package flowgate_site/ itself is no app (settings, URLs, ASGI, Celery, the server).
    "core_app",
    "templates_app",
    "gateways_app",
    "opamp_app",
    "deployments_app",
    "dashboard_app",
    # Gateways' own metrics (OTLP/HTTP /v1/metrics) and their per-minute rollups (docs/telemetry.md).
    "telemetry_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Near the top: every response gets the Content-Security-Policy, the ones of the middleware below included.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core_app.outage.DatabaseOutageMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes' backend first: it refuses locked-out sign-ins before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "flowgate_site.urls"
ASGI_APPLICATION = "flowgate_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-wide templates: base.html, the error pages, the admin/DRF/Swagger UI overrides (before the apps' own).
        "DIRS": [BASE_DIR / "flowgate_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core_app.context_processors.organizations",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL in production).
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "flowgate.sqlite3",
            # Waits for the write lock instead of failing at once under concurrent writers.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache, channel layer and Celery broker: in-process unless REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "")
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "flowgate")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
    # channels-redis blocks up to 5 s in BZPOPMIN waiting for a consumer's next message; redis-py 8's
    # default 5 s socket timeout cuts that read short and crashes idle WebSocket consumers.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "prefix": f"{REDIS_KEY_PREFIX}:asgi"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# memory://localhost/: eager tasks still take a (never used) producer, and kombu warns on every
# first use of a broker URL without a host.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = f"{REDIS_KEY_PREFIX}-tasks"
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:"}
# Broker outages (docs/security.md): kombu's Redis transport with a channel that closes cleanly when Redis is
# gone (flowgate_site/broker.py); without it a worker holding an unacknowledged message died on reconnect.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "flowgate_site.broker:Transport"
# Reconnect for ever, at start too (Redis may come up after the worker): up to 30 s between attempts.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task that cannot be acknowledged on a lost connection is cancelled and runs again from the queue
# (Celery 6's default; every task here is idempotent).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# The operator pages (core_app/urls.py) sign people in; the admin keeps its own login page.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Security: strict in production (DEBUG off), relaxed for local development.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# OpAMP agents speak plain HTTP inside a trusted network or behind a TLS proxy;
# these paths must not be redirected to HTTPS by Django itself.
SECURE_REDIRECT_EXEMPT = [r"^v1/opamp", r"^api/v1/opamp/", r"^api/v1/gateways/"]
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp; docs/security.md). No inline script anywhere: pages,
# admin and Swagger UI load their scripts from /static/. Style attributes may stay inline (templates size
# bars with them), <style> elements and stylesheets only from the site; images also as data: URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "style-src-elem": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core_app.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core_app.api.permissions.OrgRolePermission"],
    # DRF's JSON parser, refusing lone surrogates (\ud800 escapes) with a 400 (core_app/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "core_app.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core_app.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core_app.api.exceptions.exception_handler",
    # Rates: FLOWGATE_API_*_RATE below (core_app/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "core_app.api.throttling.AnonThrottle",
        "core_app.api.throttling.UserThrottle",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "FlowGate API",
    "DESCRIPTION": "Control plane for fleets of OpenTelemetry Collector gateways.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the sidecar package: the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge image from the public validator (the Content-Security-Policy would refuse it anyway).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    # Choice sets used by several serializers get one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "TemplateTypeEnum": "templates_app.models.TemplateType",
        "StrategyEnum": "core_app.models.Strategy",
        "DeploymentStatusEnum": "deployments_app.models.DeploymentStatus",
        "TargetStatusEnum": "deployments_app.models.TargetStatus",
        "GatewayStatusEnum": "gateways_app.models.GatewayStatus",
        "RemoteConfigStatusEnum": "gateways_app.models.RemoteConfigStatus",  # remote config and connection settings
    },
}

# Largest collector YAML accepted in a template version, in bytes.
FLOWGATE_MAX_CONFIG_BYTES = env_int("FLOWGATE_MAX_CONFIG_BYTES", 1024 * 1024)
# The deep check of config validation (docs/deployments.md): a collector binary FlowGate runs as
# `<binary> validate --config <file>`, and how long it may take. Empty: no deep check.
FLOWGATE_COLLECTOR_BINARY = env_str("FLOWGATE_COLLECTOR_BINARY", "")
FLOWGATE_COLLECTOR_VALIDATE_TIMEOUT_SECONDS = env_int("FLOWGATE_COLLECTOR_VALIDATE_TIMEOUT_SECONDS", 10)
# The address gateways use to reach this portal (enrollment answers with it).
FLOWGATE_PUBLIC_URL = env_str("FLOWGATE_PUBLIC_URL", "")
# The OpAMP URL agents reach this portal through, offered as OpAMPConnectionSettings.destination_endpoint
# (ws/wss/http/https, checked at start by opamp_app); empty: each agent's own connection (core_app/agent_urls.py).
FLOWGATE_OPAMP_PUBLIC_URL = env_str("FLOWGATE_OPAMP_PUBLIC_URL", "")
# Where a gateway host pip-installs FlowGate's package (the token page prints the command,
# gateways_app/gateway_commands.py): a pip URL such as git+https://…@v0.1.0; empty: this checkout (file://).
FLOWGATE_GATEWAY_SOURCE = env_str("FLOWGATE_GATEWAY_SOURCE", "")
FLOWGATE_OPAMP_PATH = "/v1/opamp"
# OpAMP transports (docs/opamp.md). Largest AgentToServer/ServerToAgent message, WebSocket or HTTP body
# (after gzip decompression); `python -m flowgate_site.serve` gives Daphne the same WebSocket limit.
FLOWGATE_OPAMP_MAX_MESSAGE_BYTES = env_int("FLOWGATE_OPAMP_MAX_MESSAGE_BYTES", 4 * 1024 * 1024)
# What one OpAMP report may carry (docs/security.md "OpAMP report bounds"): over a count, BAD_REQUEST naming it;
# an effective config over its size is stored cut, with a comment saying so.
FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS = env_int("FLOWGATE_OPAMP_MAX_HEALTH_COMPONENTS", 2000)
FLOWGATE_OPAMP_MAX_HEALTH_DEPTH = env_int("FLOWGATE_OPAMP_MAX_HEALTH_DEPTH", 8)
FLOWGATE_OPAMP_MAX_ATTRIBUTES = env_int("FLOWGATE_OPAMP_MAX_ATTRIBUTES", 100)
FLOWGATE_OPAMP_MAX_AVAILABLE_COMPONENTS = env_int("FLOWGATE_OPAMP_MAX_AVAILABLE_COMPONENTS", 2000)
FLOWGATE_OPAMP_MAX_MESSAGES = env_int("FLOWGATE_OPAMP_MAX_MESSAGES", 20000)
FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES = env_int("FLOWGATE_OPAMP_MAX_EFFECTIVE_CONFIG_BYTES", 1024 * 1024)
# OpAMP messages of at least this many bytes are checked, parsed and processed in a worker thread.
FLOWGATE_OPAMP_THREAD_BYTES = env_int("FLOWGATE_OPAMP_THREAD_BYTES", 16 * 1024)
# Plain-HTTP requests handled at once per server process; more are answered 503 + Retry-After.
FLOWGATE_OPAMP_HTTP_MAX_INFLIGHT = env_int("FLOWGATE_OPAMP_HTTP_MAX_INFLIGHT", 256)
FLOWGATE_OPAMP_RETRY_AFTER_SECONDS = env_int("FLOWGATE_OPAMP_RETRY_AFTER_SECONDS", 30)
# How long a plain-HTTP agent's session (sequence number, what was sent) is kept between polls.
FLOWGATE_OPAMP_HTTP_SESSION_SECONDS = env_int("FLOWGATE_OPAMP_HTTP_SESSION_SECONDS", 600)
# How often each server process re-checks the tokens of its open WebSockets (revoked or expired
# ones are closed), and writes last_seen of the gateways connected to it or polling it.
FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS = env_int("FLOWGATE_OPAMP_TOKEN_CHECK_SECONDS", 3)
FLOWGATE_OPAMP_PRESENCE_SECONDS = env_int("FLOWGATE_OPAMP_PRESENCE_SECONDS", 15)
# Keep the garbage collector off long-lived connection objects with gc.freeze() (opamp_app/heap.py).
FLOWGATE_OPAMP_FREEZE_GC = env_bool("FLOWGATE_OPAMP_FREEZE_GC", True)
# Rollout engine (docs/deployments.md): seconds between two ticks of a rolling-out deployment, and
# between two runs of reconcile_deployments (re-ticks deployments, re-sends drifted configs).
FLOWGATE_ROLLOUT_TICK_SECONDS = float(env_str("FLOWGATE_ROLLOUT_TICK_SECONDS", "2"))
FLOWGATE_RECONCILE_SECONDS = float(env_str("FLOWGATE_RECONCILE_SECONDS", "30"))
# `python -m flowgate_site.serve` sends WebSocket frames at once when nothing is queued (direct_write.py);
# off anyway when Daphne/Twisted/autobahn are not the tested versions (flowgate_site/server_extensions.py).
FLOWGATE_DIRECT_WRITE = env_bool("FLOWGATE_DIRECT_WRITE", True)
# Gateways' own metrics, POST /v1/metrics (telemetry_app, docs/telemetry.md): the body as sent (gzip or
# not) and once inflated; requests handled at once per server process (more get 503 + Retry-After).
FLOWGATE_TELEMETRY_MAX_BODY_BYTES = env_int("FLOWGATE_TELEMETRY_MAX_BODY_BYTES", 1024 * 1024)
FLOWGATE_TELEMETRY_MAX_DECOMPRESSED_BYTES = env_int("FLOWGATE_TELEMETRY_MAX_DECOMPRESSED_BYTES", 8 * 1024 * 1024)
# 128: requests wait for their group commit (FLOWGATE_TELEMETRY_BATCH_WINDOW_MS) holding only their body, not a
# thread; 5,000 gateways at 30 s keep about 30 in flight (docs/telemetry.md "Ingest cost").
FLOWGATE_TELEMETRY_MAX_INFLIGHT = env_int("FLOWGATE_TELEMETRY_MAX_INFLIGHT", 128)
FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS = env_int("FLOWGATE_TELEMETRY_RETRY_AFTER_SECONDS", 15)
# Accepted telemetry credentials are trusted this long per server process before they are checked again (longer
# than the push interval, or nothing is saved): a deleted or moved credential is refused within it
# (docs/telemetry.md "Ingest cost"); 0 checks every request.
FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS = env_int("FLOWGATE_TELEMETRY_CREDENTIAL_CACHE_SECONDS", 120)
# Group commit: the rollups of the requests that arrive within this window are written in one transaction.
FLOWGATE_TELEMETRY_BATCH_WINDOW_MS = env_int("FLOWGATE_TELEMETRY_BATCH_WINDOW_MS", 100)
# Refused telemetry credentials per address; past it the address gets 429 before any credential lookup.
FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE = env_str("FLOWGATE_TELEMETRY_AUTH_FAILURE_RATE", "120/m")
# Request bodies, refused with 413 by `python -m flowgate_site.serve` while they arrive, before the
# application reads them (flowgate_site/body_limits.py, docs/security.md "Request body limits"):
# "path-prefix=bytes" items, the longest matching prefix wins; any other path gets the default, which
# stays above Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) so that Django's own messages answer below it.
FLOWGATE_REQUEST_BODY_DEFAULT_BYTES = env_int("FLOWGATE_REQUEST_BODY_DEFAULT_BYTES", 4 * 1024 * 1024)
FLOWGATE_REQUEST_BODY_LIMITS = env_list(
    "FLOWGATE_REQUEST_BODY_LIMITS",
    [
        f"{FLOWGATE_OPAMP_PATH}={FLOWGATE_OPAMP_MAX_MESSAGE_BYTES}",
        f"/api/v1/opamp{FLOWGATE_OPAMP_PATH}={FLOWGATE_OPAMP_MAX_MESSAGE_BYTES}",
        "/login/=65536",
        "/admin/login/=65536",
        "/api/v1/gateways/register=65536",
        f"/v1/metrics={FLOWGATE_TELEMETRY_MAX_BODY_BYTES}",
    ],
)
# Seconds a connection has to send a complete request line and headers (the WebSocket upgrade's too),
# counted from its opening or from the first byte of its next request (docs/security.md "Slow clients").
FLOWGATE_HTTP_HEADER_TIMEOUT_SECONDS = float(env_str("FLOWGATE_HTTP_HEADER_TIMEOUT_SECONDS", "15"))
# Rate limits and sign-in lockout (docs/security.md "Rate limits and lockout"), counted in the cache across
# server processes. Rates read "count/period": "60/m", "30/15m", "1000/h"; "off" turns one off.
# The client a limit counts: REMOTE_ADDR, or behind proxies that append to this header (X-Forwarded-For)
# the entry FLOWGATE_TRUSTED_PROXY_COUNT places from its right. Leave it empty without a proxy that sets it.
FLOWGATE_CLIENT_IP_HEADER = env_str("FLOWGATE_CLIENT_IP_HEADER", "")
FLOWGATE_TRUSTED_PROXY_COUNT = env_int("FLOWGATE_TRUSTED_PROXY_COUNT", 1)
# Sign-in (/login/, /admin/login/): a username+address pair is locked after this many failures, for the
# cool-off; an address is locked after FLOWGATE_LOGIN_CLIENT_FAILURE_RATE failures whatever the usernames.
FLOWGATE_LOGIN_FAILURE_LIMIT = env_int("FLOWGATE_LOGIN_FAILURE_LIMIT", 5)
FLOWGATE_LOGIN_COOLOFF_SECONDS = env_int("FLOWGATE_LOGIN_COOLOFF_SECONDS", 900)
FLOWGATE_LOGIN_CLIENT_FAILURE_RATE = env_str("FLOWGATE_LOGIN_CLIENT_FAILURE_RATE", "30/15m")
# API: requests per signed-in user, per anonymous address; refused API tokens per address.
FLOWGATE_API_USER_RATE = env_str("FLOWGATE_API_USER_RATE", "1200/m")
FLOWGATE_API_ANON_RATE = env_str("FLOWGATE_API_ANON_RATE", "60/m")
FLOWGATE_API_TOKEN_FAILURE_RATE = env_str("FLOWGATE_API_TOKEN_FAILURE_RATE", "20/m")
# Gateway enrollment (POST /api/v1/gateways/register) per address.
FLOWGATE_ENROLLMENT_RATE = env_str("FLOWGATE_ENROLLMENT_RATE", "60/m")
# OpAMP admission per address: WebSocket handshakes, plain-HTTP polls and heartbeats (generous: a fleet behind
# one NAT reconnects at once after a restart), and refused OpAMP tokens (strict).
FLOWGATE_OPAMP_CONNECT_RATE = env_str("FLOWGATE_OPAMP_CONNECT_RATE", "6000/m")
FLOWGATE_OPAMP_AUTH_FAILURE_RATE = env_str("FLOWGATE_OPAMP_AUTH_FAILURE_RATE", "120/m")
# Retry-After of the API's and pages' 503 when the database is unreachable (docs/security.md "Database outages").
FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS = env_int("FLOWGATE_OUTAGE_RETRY_AFTER_SECONDS", 30)
AXES_HANDLER = "core_app.lockout.LoginAttemptHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = FLOWGATE_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=FLOWGATE_LOGIN_COOLOFF_SECONDS)
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core_app.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "core_app.lockout.lockout_response"
AXES_ENABLE_ADMIN = False  # attempts live in the cache: axes' admin tables would stay empty
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are still logged
# Without a broker, `python -m flowgate_site.serve` runs the beat schedule and rollout ticks itself.
FLOWGATE_EMBEDDED_BEAT = env_bool("FLOWGATE_EMBEDDED_BEAT", True)

CELERY_BEAT_SCHEDULE = {
    # Plain-HTTP agents have no connection whose end says they are gone: three missed heartbeats do.
    "mark-stale-gateways-offline": {"task": "opamp_app.tasks.mark_stale_gateways_offline", "schedule": 30.0},
    # The rollout engine's safety net: a killed worker or a lost message never stalls a deployment.
    "reconcile-deployments": {
        "task": "deployments_app.tasks.reconcile_deployments",
        "schedule": FLOWGATE_RECONCILE_SECONDS,
    },
    # Scheduled OpAMP token rotation: gateways get a new token over OpAMP before theirs expires
    # (OrgSettings.opamp_token_rotate_days; gateways_app/rotation.py).
    "rotate-expiring-opamp-tokens": {
        "task": "gateways_app.tasks.rotate_expiring_opamp_tokens",
        "schedule": env_int("FLOWGATE_TOKEN_ROTATION_CHECK_SECONDS", 3600),
    },
}
if CELERY_TASK_ALWAYS_EAGER:
    # No broker, so no chain of advance_rollout tasks ticks a deployment: the server's embedded beat
    # (flowgate_site/embedded_beat.py) runs this entry, with the rest of the schedule.
    CELERY_BEAT_SCHEDULE["tick-rollouts"] = {
        "task": "deployments_app.tasks.tick_rollouts",
        "schedule": FLOWGATE_ROLLOUT_TICK_SECONDS,
    }
    # Likewise a new deployment (status validating) is checked by this entry, never inside the
    # web request that created it (with a broker, a worker runs tasks.validate_deployment).
    CELERY_BEAT_SCHEDULE["validate-deployments"] = {
        "task": "deployments_app.tasks.validate_deployments",
        "schedule": 1.0,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # OPAMP_LOG_LEVEL=DEBUG: OpAMP timings (a config handed out, a batch of status writes).
        "opamp_app": {"level": env_str("OPAMP_LOG_LEVEL", env_str("LOG_LEVEL", "INFO"))},
        # Eager (`make run`): the embedded beat runs its tasks every second and Celery logs each "succeeded" at
        # INFO, which buried the printed credentials and the banner; failures are still logged (ERROR).
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else env_str("LOG_LEVEL", "INFO")},
    },
}

# Dashboard (dashboard_app): how often every organization's gateways per status are sampled for the
# "connected gateways over time" chart, and how long the samples are kept.
FLOWGATE_FLEET_SNAPSHOT_SECONDS = float(env_str("FLOWGATE_FLEET_SNAPSHOT_SECONDS", "300"))
FLOWGATE_FLEET_SNAPSHOT_DAYS = env_int("FLOWGATE_FLEET_SNAPSHOT_DAYS", 30)
CELERY_BEAT_SCHEDULE["record-fleet-snapshots"] = {
    "task": "dashboard_app.tasks.record_fleet_snapshots",
    "schedule": FLOWGATE_FLEET_SNAPSHOT_SECONDS,
}

# The collector's deep check of a new template version (templates_app/tasks.py) is never run inside
# the request that saved it. Without a broker the server's embedded beat checks the versions left
# "checking" every second; with one a worker runs the check queued at the commit, and this entry
# only picks up versions whose queued check was lost (still checking after a minute).
# Gateway telemetry rollups: minute rows past the org's retention are summed into hour rows, hour rows
# past theirs deleted (telemetry_app/retention.py). Run by the worker's beat, or without a broker by the
# server's embedded beat like every entry of this schedule.
CELERY_BEAT_SCHEDULE["telemetry-retention"] = {
    "task": "telemetry_app.tasks.apply_retention",
    "schedule": float(env_str("FLOWGATE_TELEMETRY_RETENTION_SECONDS", "600")),
}
# Health from metrics (docs/telemetry.md): a gateway that reported its own metrics and has not for this long
# is marked degraded ("no metrics received since …"); the check runs every minute.
FLOWGATE_TELEMETRY_STALE_SECONDS = env_int("FLOWGATE_TELEMETRY_STALE_SECONDS", 300)
CELERY_BEAT_SCHEDULE["telemetry-stale-check"] = {"task": "telemetry_app.tasks.check_stale_metrics", "schedule": 60.0}

CELERY_BEAT_SCHEDULE["check-versions"] = (
    {"task": "templates_app.tasks.check_versions", "schedule": 1.0}
    if CELERY_TASK_ALWAYS_EAGER
    else {"task": "templates_app.tasks.check_versions", "schedule": 30.0, "args": (60,)}
)
