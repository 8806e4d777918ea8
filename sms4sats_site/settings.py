"""Settings, read from the environment (each name documented once in docs/configuration.md).

A bad value stops start-up with one line that names the variable (see ``config_error``). Importing this
module touches no file: the entry points create ``VAR_DIR`` and the local secret key (``local_state``).
"""

import ipaddress
import logging
import os
import re
import secrets
import sys
from urllib.parse import urlsplit

import dj_database_url

from . import local_state, setting_checks

BASE_DIR = local_state.BASE_DIR
VAR_DIR = local_state.var_dir()


def config_error(name, problem):
    # SystemExit with a string prints exactly that line and exits 1: no traceback.
    raise SystemExit(f"Configuration error: {name}: {problem}")


def env_str(name, default=""):
    return os.environ.get(name, default).strip()


def env_checked(name, check, default):
    """The variable's value through ``check`` (sms4sats_site/setting_checks.py, shared with the admin's settings
    page), or the default when it is not set; a refused value stops start-up with the check's one line."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return check(raw)
    except ValueError as exc:
        config_error(name, str(exc))


def env_bool(name, default):
    return env_checked(name, setting_checks.parse_bool, default)


def env_int(name, default):
    return env_checked(name, setting_checks.parse_int, default)


def env_float(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        config_error(name, f"expected a number, got {raw!r}")


def env_list(name, default=""):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_rate(name, default):
    raw = env_str(name, default)
    if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", raw):
        config_error(name, f"expected a rate like 10/m or 100/h (count/period: s, m, h, d), got {raw!r}")
    return raw


def env_networks(name):
    """A comma-separated list of addresses or networks (kept as text, each checked)."""
    entries = env_list(name)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            config_error(name, f"expected addresses or networks like 127.0.0.1 or 172.16.0.0/12, got {entry!r}")
    return entries


def env_url(name, default, schemes=("http", "https")):
    raw = env_str(name, default)
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        config_error(name, f"expected an {'/'.join(schemes)} URL, got {raw!r}")
    return raw.rstrip("/")


DEBUG = env_bool("DEBUG", False)


def local_base_url(bind):
    """The address a browser on this machine uses for gunicorn's --bind HOST:PORT (any address: loopback)."""
    host, _, port = bind.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    if not port.isdigit() or host.startswith("unix") or ("[" not in host and ":" in host):
        config_error("SHOP_BIND", f"expected HOST:PORT (or set PUBLIC_BASE_URL), got {bind!r}")
    return f"http://{host}:{port}"


# Where the local shop listens (`make run`, the Procfile's web). Unless PUBLIC_BASE_URL says otherwise, it is
# also the site's address, so a shop on another port calls its own sandbox there.
SHOP_BIND = env_str("SHOP_BIND") or "127.0.0.1:8000"
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "") if env_str("PUBLIC_BASE_URL") else local_base_url(SHOP_BIND)

# Who runs this shop, as the buyer pages name it (sms4sats_site/shop_identity.py reads these three): a name, a
# contact (e-mail, Telegram, Matrix, Nostr npub or URL, each checked here) and the terms' address. None: as before.
SHOP_NAME = env_checked("SHOP_NAME", setting_checks.shop_name, "")
SHOP_CONTACT = env_checked("SHOP_CONTACT", setting_checks.shop_contact, "")
SHOP_TERMS_URL = env_checked("SHOP_TERMS_URL", setting_checks.parse_url, "")

# The sandbox (simulated sms4sats) is on unless a real upstream is configured.
SMS4SATS_API_URL_SET = bool(env_str("SMS4SATS_API_URL"))
SANDBOX = env_bool("SANDBOX", not SMS4SATS_API_URL_SET)
SANDBOX_API_PATH = "/sandbox/api"
SMS4SATS_API_URL = env_url("SMS4SATS_API_URL", PUBLIC_BASE_URL + SANDBOX_API_PATH)
# The sandbox drops the production protections and says "no real money moves": it must never front a
# real upstream. Its own API is on this site (PUBLIC_BASE_URL's host) or on this machine.
_sandbox_hosts = {urlsplit(PUBLIC_BASE_URL).hostname, "localhost", "127.0.0.1", "::1"}
if SANDBOX and SMS4SATS_API_URL_SET and urlsplit(SMS4SATS_API_URL).hostname not in _sandbox_hosts:
    config_error(
        "SANDBOX",
        f"SANDBOX is on but SMS4SATS_API_URL points at another host ({SMS4SATS_API_URL}): "
        "unset SANDBOX to use a real upstream, or unset SMS4SATS_API_URL for the sandbox",
    )
# The sandbox accepts SANDBOX_API_KEY; with the sandbox on, the shop uses it unless told otherwise.
SANDBOX_API_KEY = "sandbox-api-key"
SMS4SATS_API_KEY = env_str("SMS4SATS_API_KEY") or (SANDBOX_API_KEY if SANDBOX and not SMS4SATS_API_URL_SET else None)
SMS4SATS_REF = env_checked("SMS4SATS_REF", setting_checks.referral_address, None)

# Production: a real upstream and no DEBUG. Then secrets must come from the environment.
PRODUCTION = not SANDBOX and not DEBUG

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        config_error("SECRET_KEY", "must be set in production (a real SMS4SATS_API_URL without DEBUG)")
    # Local use: the random key kept under var/ (written by local_state.prepare() at start-up) so sessions
    # survive a restart; a process started some other way gets a key of its own for its lifetime.
    SECRET_KEY = local_state.stored_secret_key() or secrets.token_urlsafe(50)

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    config_error("ALLOWED_HOSTS", "must name at least one host")
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]
# Onion mode (sms4sats_site/onion.py): the shop also answers at this Tor v3 address, over plain HTTP.
ONION_ADDRESS = env_str("ONION_ADDRESS").lower()
if ONION_ADDRESS and not re.fullmatch(r"[a-z2-7]{56}\.onion", ONION_ADDRESS):
    config_error(
        "ONION_ADDRESS", f"expected a v3 onion host name (56 letters a-z, digits 2-7, .onion), got {ONION_ADDRESS!r}"
    )
# Where the tor service writes the address it serves (docker-compose.yml): the admin and `manage.py onion_address`
# show it, so the operator can copy it into ONION_ADDRESS.
ONION_HOSTNAME_FILE = env_str("ONION_HOSTNAME_FILE")
if ONION_ADDRESS:
    ALLOWED_HOSTS.append(ONION_ADDRESS)
    CSRF_TRUSTED_ORIGINS.append(f"http://{ONION_ADDRESS}")
CSRF_FAILURE_VIEW = "shop.views.csrf_failure"  # the site's styled 403, not Django's inline-CSS page

INSTALLED_APPS = [
    "backoffice.apps.ShopAdminConfig",  # django.contrib.admin with the shop's site (backoffice/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # intcomma: the admin dashboard groups its big numbers
    "django_htmx",
    "orders",
    "shop",
    "backoffice",
    "webhooks",
    "alerts",
    "shopsettings",
]
if SANDBOX:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "sms4sats_site.onion.OnionAwareSecurityMiddleware",  # Django's SecurityMiddleware, per host
    # Compresses what a client accepts gzip for (pages, JSON, static files not already precompressed), so
    # `make run` without a proxy sends compressed pages too; behind Caddy/nginx the proxy leaves an encoded
    # response as it is. BREACH: every secret a page reflects is masked per response (the CSRF token is
    # re-masked with a random salt each time) and Django adds random bytes to the gzip header
    # (docs/deploying.md, "Compression").
    "django.middleware.gzip.GZipMiddleware",
    "sms4sats_site.security.ShopCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The buyer's language: the language cookie (the switcher), else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "sms4sats_site.locale.ShopLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# Django's deploy check looks for its SecurityMiddleware by name; the shop runs it as a subclass deciding per
# host (sms4sats_site/onion.py), with every header and the redirect the check is about (tests/test_onion.py).
SILENCED_SYSTEM_CHECKS = ["security.W001"]

ROOT_URLCONF = "sms4sats_site.urls"
WSGI_APPLICATION = "sms4sats_site.wsgi.application"

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
                "django.template.context_processors.i18n",
                "shop.context_processors.shop",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if urlsplit(_database_url).scheme not in ("sqlite", "postgres", "postgresql", "pgsql"):
    config_error("DATABASE_URL", f"expected sqlite:///path or postgres://user@host:port/name, got {_database_url!r}")
try:
    _database = dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
except ValueError as exc:
    config_error("DATABASE_URL", f"cannot parse {_database_url!r} ({exc})")
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file locally: wait for locks instead of failing.
    _database["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    _database["CONN_MAX_AGE"] = 0
    # Tests share the database with a live server and worker threads: a file (per run) locks
    # better than shared-cache memory.
    _database["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "sms4sats")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
RATELIMIT_USE_CACHE = "default"
# Rate limits count the client's address and keep it in Redis only as an HMAC in a key that expires with its
# window (sms4sats_site/client_address.py).
RATELIMIT_IP_META_KEY = "sms4sats_site.client_address.client_ip"
RATELIMIT_HASH_ALGORITHM = "sms4sats_site.client_address.KeyedSha256"
# The reverse proxies in front of the shop (addresses or networks). Only a connection from one of them may
# say who the client is (X-Forwarded-For); by default no one may, and the client is the connection's address.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")
# GET /metrics (Prometheus): off unless a Bearer token or allowed client addresses are set; with both, a scrape
# needs both. The addresses are checked against the client's address as the rate limits find it.
METRICS_TOKEN = env_checked("METRICS_TOKEN", setting_checks.metrics_token, "")
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS")
# Outbound requests (sms4sats_site/outbound.py) to targets an admin types in (webhook endpoints, the referral
# domain, FIAT_RATES_URL, Apprise json/webhook targets) may reach only public addresses, checked after DNS,
# unless the address is inside these networks (e.g. a receiver on the LAN: 192.168.1.0/24). The sandbox and
# DEBUG allow this machine by default: the sandbox serves its own rates and local receivers are for development.
if os.environ.get("OUTBOUND_ALLOWED_NETWORKS") is not None:
    OUTBOUND_ALLOWED_NETWORKS = env_networks("OUTBOUND_ALLOWED_NETWORKS")
else:
    OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"] if SANDBOX or DEBUG else []
# Orders placed per client address and per browser session (invalid forms and refused orders do not count).
ORDER_RATE_PER_IP = env_rate("ORDER_RATE_PER_IP", "10/m")
ORDER_RATE_PER_SESSION = env_rate("ORDER_RATE_PER_SESSION", "5/m")
# Admin login: failed attempts allowed per address and user name, and per address, in the window.
ADMIN_LOGIN_FAILURES_PER_USER = 5
ADMIN_LOGIN_FAILURES_PER_IP = 20
ADMIN_LOGIN_WINDOW_SECONDS = 15 * 60

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Buyer pages in these languages (locale/<code>/LC_MESSAGES/django.po, compiled by bin/compile_messages.py);
# English for browsers that ask for none of them. The admin and the sandbox stay English
# (sms4sats_site/locale.py). URLs carry no language: an order's address is the same in every language.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("de", "Deutsch"),
    ("ru", "Русский"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = local_state.STATIC_ROOT
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names once collected, cached for a year (sms4sats_site/static_storage.py).
    "staticfiles": {"BACKEND": "sms4sats_site.static_storage.ShopStaticStorage"},
}
# Serve straight from the apps' static folders too, so a fresh checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 24 * 90
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy on every page, in every mode (sms4sats_site/security.py): nothing inline,
# nothing from another origin. htmx's indicator <style> is turned off by the htmx-config meta tag.
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_NONE],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    },
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # Off only where the shop is reached over plain HTTP on a home network (the Umbrel package, deploy/umbrel/).
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True

# Fiat equivalents beside the sats (orders/fiat.py): a worker fetches BTC prices from FIAT_RATES_URL (the
# blockchain.info ticker format) every FIAT_RATES_REFRESH_SECONDS and caches them; pages show them only while
# younger than FIAT_RATES_MAX_AGE. Unset: the sandbox's own ticker in sandbox mode, else blockchain.info;
# empty (or "off"): no fiat anywhere. The source sees the shop's server only, never a buyer.
FIAT_RATES_PATH = "/sandbox/ticker"
_fiat_rates_url = os.environ.get("FIAT_RATES_URL")
if _fiat_rates_url is None:
    FIAT_RATES_URL = PUBLIC_BASE_URL + FIAT_RATES_PATH if SANDBOX else "https://blockchain.info/ticker"
elif _fiat_rates_url.strip().lower() in ("", "off"):
    FIAT_RATES_URL = ""
else:
    FIAT_RATES_URL = env_url("FIAT_RATES_URL", "")
FIAT_CURRENCIES = env_checked("FIAT_CURRENCIES", setting_checks.fiat_currencies, setting_checks.DEFAULT_FIAT_CURRENCIES)
FIAT_RATES_REFRESH_SECONDS = env_int("FIAT_RATES_REFRESH_SECONDS", 300)
if FIAT_RATES_REFRESH_SECONDS < 10:
    config_error("FIAT_RATES_REFRESH_SECONDS", f"expected at least 10 seconds, got {FIAT_RATES_REFRESH_SECONDS}")
FIAT_RATES_MAX_AGE = env_int("FIAT_RATES_MAX_AGE", 1800)
if FIAT_RATES_MAX_AGE <= FIAT_RATES_REFRESH_SECONDS:
    config_error(
        "FIAT_RATES_MAX_AGE",
        f"expected more than FIAT_RATES_REFRESH_SECONDS ({FIAT_RATES_REFRESH_SECONDS}), got {FIAT_RATES_MAX_AGE}",
    )
# Seconds for one fetch of the rates (a worker's, never a buyer's request).
FIAT_RATES_TIMEOUT = 10

# Celery: broker on Redis, tasks enqueued on commit by the callers.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "sms4sats")
# Creating and canceling orders have their own queue and worker process ("creator" in the Procfile and the
# compose file), so a long poll cycle never makes a buyer wait for an invoice.
CELERY_CREATE_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-create"
CELERY_TASK_ROUTES = {
    "orders.tasks.create_order": {"queue": CELERY_CREATE_QUEUE},
    "orders.tasks.cancel_order": {"queue": CELERY_CREATE_QUEUE},
    # Each worker process watches the other one's heartbeat (alerts/checks.py says why).
    "alerts.tasks.creator_heartbeat": {"queue": CELERY_CREATE_QUEUE},
    "alerts.tasks.check_main_worker": {"queue": CELERY_CREATE_QUEUE},
}
CELERY_TIMEZONE = "UTC"
# The workers beat this often (a heartbeat for /healthz, one for the creator: alerts/checks.py).
HEARTBEAT_SECONDS = 10
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "orders.tasks.heartbeat", "schedule": float(HEARTBEAT_SECONDS)},
    # A tick not started within its interval is dropped: the next one does the same work.
    "poll-due-orders": {"task": "orders.tasks.poll_due_orders", "schedule": 2.0, "options": {"expires": 2.0}},
    "sweep-orders": {"task": "orders.tasks.sweep_orders", "schedule": 60.0},
    "refresh-catalog": {"task": "orders.tasks.refresh_catalog", "schedule": 300.0},
    "purge-personal-data": {"task": "orders.tasks.purge_personal_data", "schedule": 24 * 60 * 60.0},
    "clear-expired-sessions": {"task": "orders.tasks.clear_expired_sessions", "schedule": 60 * 60.0},
    # Outbound webhooks: deliveries that are due (a retry, or one whose task was lost) go to the workers.
    "webhook-deliveries": {"task": "webhooks.tasks.deliver_due", "schedule": 10.0, "options": {"expires": 10.0}},
    "purge-webhook-log": {"task": "webhooks.tasks.purge_log", "schedule": 24 * 60 * 60.0},
}
if FIAT_RATES_URL:
    CELERY_BEAT_SCHEDULE["refresh-fiat-rates"] = {
        "task": "orders.tasks.refresh_fiat_rates",
        "schedule": float(FIAT_RATES_REFRESH_SECONDS),
        "options": {"expires": float(FIAT_RATES_REFRESH_SECONDS)},
    }
# Alerts (alerts/): the conditions are checked from beat even with ALERT_URLS empty (the dashboard shows the
# referral address's last check); nothing is sent then.
CELERY_BEAT_SCHEDULE.update(
    {
        "creator-heartbeat": {
            "task": "alerts.tasks.creator_heartbeat",
            "schedule": float(HEARTBEAT_SECONDS),
            "options": {"expires": float(HEARTBEAT_SECONDS)},
        },
        "alerts-check-main-worker": {"task": "alerts.tasks.check_main_worker", "schedule": 60.0},
        "alerts-check": {"task": "alerts.tasks.check_conditions", "schedule": 60.0},
        "alerts-check-balance": {"task": "alerts.tasks.check_balance", "schedule": 15 * 60.0},
        "referral-check": {"task": "alerts.tasks.check_referral", "schedule": 15 * 60.0},
        "alerts-daily-summary": {"task": "alerts.tasks.daily_summary", "schedule": 60 * 60.0},
        "purge-alert-log": {"task": "alerts.tasks.purge_log", "schedule": 24 * 60 * 60.0},
    }
)
if SANDBOX:
    CELERY_BEAT_SCHEDULE["sandbox-webhooks"] = {"task": "sandbox.tasks.deliver_due_webhooks", "schedule": 5.0}
# Workers are "alive" while their last heartbeat is younger than this.
HEARTBEAT_MAX_AGE = 45
# A worker or beat that has just started has this long to beat before a stale heartbeat alerts (the one left
# in Redis by the last run may be hours old): the first beats come within an interval or two of a start.
WORKER_START_GRACE_SECONDS = 6 * HEARTBEAT_SECONDS

# Order engine timings (seconds). Tests and the sandbox shorten them.
SMS4SATS_TIMEOUT = env_float("SMS4SATS_TIMEOUT", 10.0)
# Size to the upstream's round trip: a distant API needs many calls in flight; the sandbox on the same
# machine is served faster by few (each open connection adds client CPU per call; see BENCHMARKS.md).
POLL_CONCURRENCY = env_int("POLL_CONCURRENCY", 10 if SANDBOX else 50)
POLL_BATCH_SIZE = env_int("POLL_BATCH_SIZE", 2000)
# How often the engine asks sms4sats about a live order (docs/design.md, "Upstream health and scheduling"):
# every 2 s while a buyer's page is open on it, every 15 s otherwise. 15 s is under 2% of an invoice's
# 15 minutes and of the 21-minute automatic cancel, and a page that opens makes its order due at once.
POLL_FAST_SECONDS = 2
POLL_UNWATCHED_SECONDS = env_int("POLL_UNWATCHED_SECONDS", 15)
# An active rental nobody is looking at: once a minute (its SMS wait at sms4sats; the page catches up).
POLL_RENTAL_UNWATCHED_SECONDS = 60
POLL_MAX_BACKOFF_SECONDS = 60
# A page's status poll marks its order as watched for this long (a few missed polls are tolerated).
ORDER_WATCH_SECONDS = 10
# Past a local deadline (invoice expiry, the automatic cancel) the order waits for sms4sats to confirm and
# is asked this often; after the horizon (longer than any hold invoice can last) the engine stops and the
# order is flagged for the operator.
POLL_RECONCILE_SECONDS = 60
RECONCILE_HORIZON_SECONDS = 48 * 60 * 60
# No poll cycle runs longer than this: the next tick starts from fresh due orders.
POLL_CYCLE_MAX_SECONDS = 10
# Poll cycles that may run at once across all workers (PostgreSQL only: its claim skips rows another cycle holds;
# on SQLite one). 1 keeps a worker that also creates orders (the Procfile's, the small and Umbrel stacks) with a
# process free for creation; with the creator apart (docker-compose.yml) or several worker machines, more
# cycles poll a large due set side by side (docs/deploying.md, "Scaling").
POLL_PARALLEL_CYCLES = env_int("POLL_PARALLEL_CYCLES", 1)
# Threads applying a chunk's answers (PostgreSQL; SQLite takes one writer at a time and uses one).
POLL_APPLY_THREADS = 4
# Upstream health: this many consecutive failed calls (5xx, timeouts, connection errors) mean "sms4sats is
# not answering"; then one probe per cycle until a call succeeds.
UPSTREAM_DOWN_AFTER_FAILURES = 3
# /healthz fails when the oldest order waiting to be created at sms4sats is older than this.
CREATION_LAG_MAX_SECONDS = env_int("CREATION_LAG_MAX_SECONDS", 60)
# A NEW order whose creation task is this old is taken for lost (broker restarted) and enqueued again.
CREATE_REQUEUE_SECONDS = 60
CREATE_RETRY_SECONDS = 120
CREATE_STUCK_SECONDS = 300
EXPIRY_GRACE_SECONDS = 600
AUTO_CANCEL_SECONDS = 21 * 60
AUTO_CANCEL_GRACE_SECONDS = 300
CANCEL_AFTER_SECONDS = 120
CATALOG_CACHE_SECONDS = 600
# Seconds a buyer's page waits for sms4sats when the catalog it shows is not cached.
CATALOG_TIMEOUT = env_float("CATALOG_TIMEOUT", 3.0)
# Seconds between two polls of the status part by an open order page.
STATUS_POLL_SECONDS = 2
# Alerts to the operator through Apprise (alerts/, docs/operating.md "Alerts"): Apprise URLs separated by spaces or
# commas (telegram://, mailto://, ntfy://, nostr://, matrix://, json://…); empty: no alert is sent.
ALERT_URLS = env_str("ALERT_URLS")
# "Refunds spike": this many refunds or more within the last hour (0: off).
ALERT_REFUNDS_PER_HOUR = env_checked("ALERT_REFUNDS_PER_HOUR", setting_checks.at_least_zero, 10)
# The prepaid balance fell under this many sats (0: off; needs SMS4SATS_API_KEY).
ALERT_BALANCE_MIN_SATS = env_checked("ALERT_BALANCE_MIN_SATS", setting_checks.at_least_zero, 0)
# A summary of the last 24 hours once a day, at this hour (UTC).
ALERT_DAILY_SUMMARY = env_bool("ALERT_DAILY_SUMMARY", False)
ALERT_DAILY_SUMMARY_HOUR = env_int("ALERT_DAILY_SUMMARY_HOUR", 8)
if not 0 <= ALERT_DAILY_SUMMARY_HOUR <= 23:
    config_error("ALERT_DAILY_SUMMARY_HOUR", f"expected an hour from 0 to 23, got {ALERT_DAILY_SUMMARY_HOUR}")
# Hysteresis (alerts/checks.py): a condition alerts once it has held this long, and its "back to normal" is sent
# once it has been clear this long; flaps shorter than that send nothing (they are counted for the summary).
ALERT_HOLD_SECONDS = env_int("ALERT_HOLD_SECONDS", 60)
ALERT_CLEAR_SECONDS = env_int("ALERT_CLEAR_SECONDS", 120)
# At most this many alerts an hour; the ones over it, and the flaps, are told in one summary the next hour.
ALERT_MAX_PER_HOUR = env_int("ALERT_MAX_PER_HOUR", 10)
if ALERT_MAX_PER_HOUR < 1:
    config_error("ALERT_MAX_PER_HOUR", f"expected 1 or more, got {ALERT_MAX_PER_HOUR}")
for _name in ("ALERT_REFUNDS_PER_HOUR", "ALERT_BALANCE_MIN_SATS", "ALERT_HOLD_SECONDS", "ALERT_CLEAR_SECONDS"):
    if globals()[_name] < 0:
        config_error(_name, f"expected 0 (off) or more, got {globals()[_name]}")
# Failed deliveries of one alert are tried again this many times, 30 s, 1, 2, 4… min apart.
ALERT_MAX_RETRIES = 5
# The alert log (and the per-event notifications' log) is purged daily of rows older than this, like the webhooks'.
ALERT_LOG_RETENTION_DAYS = 30
# The referral address is resolved over HTTPS (LUD-16); plain HTTP only for localhost/127.0.0.1 or with this
# on (a local LNURL server in development or tests; never in production).
REFERRAL_ALLOW_HTTP = env_bool("REFERRAL_ALLOW_HTTP", False)
if REFERRAL_ALLOW_HTTP and PRODUCTION:
    config_error("REFERRAL_ALLOW_HTTP", "is for development and tests only (it is on in production)")
REFERRAL_TIMEOUT = 5.0
# The operator's settings are also editable on the admin's settings page (shopsettings/), stored in the database
# and read through shopsettings.runtime.get; a value set in the environment wins there and shows as fixed.
ADMIN_SETTINGS_FROM_ENV = frozenset(name for name in setting_checks.CHECKS if env_str(name))
# Privacy: `manage.py purge_personal_data` blanks numbers, codes, phones and messages older than this.
PERSONAL_DATA_RETENTION_DAYS = 90

# Outbound webhooks (webhooks/): seconds for one whole POST (connect, send, answer), the retry delays
# after each failed attempt (about an hour in all, then the delivery is given up), how much of an answer
# the delivery log keeps, and for how long (events, deliveries and attempts; beat purges daily).
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0)
if not 0 < WEBHOOK_TIMEOUT_SECONDS <= 60:
    config_error("WEBHOOK_TIMEOUT_SECONDS", f"expected seconds between 0 and 60, got {WEBHOOK_TIMEOUT_SECONDS}")
WEBHOOK_RETRY_DELAYS = (30, 60, 120, 300, 600, 1200, 1800)
WEBHOOK_RESPONSE_EXCERPT_BYTES = 300  # a snippet: a receiver that is an internal service must not fill the log
WEBHOOK_LOG_RETENTION_DAYS = 30
# A rotated endpoint secret keeps signing beside the new one this long (both signatures in each delivery).
WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24)
if WEBHOOK_SECRET_OVERLAP_HOURS < 0:
    config_error(
        "WEBHOOK_SECRET_OVERLAP_HOURS", f"expected 0 (no overlap) or more hours, got {WEBHOOK_SECRET_OVERLAP_HOURS}"
    )

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# Celery's routine lines (each task received and succeeded, each beat tick: several every 2 s) would scroll the
# local shop's address and the admin's password away: they show only with LOG_TASKS or LOG_LEVEL=DEBUG.
LOG_TASKS = env_bool("LOG_TASKS", LOG_LEVEL == "DEBUG")
_TASK_LOG_LEVEL = "WARNING" if not LOG_TASKS and LOG_LEVEL in ("DEBUG", "INFO") else "NOTSET"


def _one_warning_line(record):
    # A wrong Host header is a scanner or a misconfigured proxy, not a bug in the shop: Django logs it at
    # ERROR with a traceback; one WARNING line says all there is to say.
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    record.exc_info = record.exc_text = None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_warning_line": {"()": lambda: _one_warning_line}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "celery.worker.strategy": {"level": _TASK_LOG_LEVEL},
        "celery.app.trace": {"level": _TASK_LOG_LEVEL},
        "celery.beat": {"level": _TASK_LOG_LEVEL},
        "django.security.DisallowedHost": {"filters": ["one_warning_line"]},
    },
}

# The sandbox's clock (seconds): how long each simulated step takes. Tests shorten them.
SANDBOX_NUMBER_DELAY = env_float("SANDBOX_NUMBER_DELAY", 3)
SANDBOX_CODE_DELAY = env_float("SANDBOX_CODE_DELAY", 15)
SANDBOX_SMS_SENT_DELAY = env_float("SANDBOX_SMS_SENT_DELAY", 3)
SANDBOX_SMS_DELIVERED_DELAY = env_float("SANDBOX_SMS_DELIVERED_DELAY", 5)
SANDBOX_AUTO_CANCEL = env_float("SANDBOX_AUTO_CANCEL", 21 * 60)
SANDBOX_CANCEL_AFTER = env_float("SANDBOX_CANCEL_AFTER", 120)
SANDBOX_INVOICE_EXPIRY = env_int("SANDBOX_INVOICE_EXPIRY", 15 * 60)
# A sandbox rental receives this many SMS (the first SANDBOX_CODE_DELAY after its number), one every
# SANDBOX_RENTAL_SMS_INTERVAL seconds, within its weeks.
SANDBOX_RENTAL_SMS_INTERVAL = env_float("SANDBOX_RENTAL_SMS_INTERVAL", 60)
SANDBOX_RENTAL_SMS_COUNT = env_int("SANDBOX_RENTAL_SMS_COUNT", 5)
