"""Shared fixtures: a private Celery queue and cache prefix per run (and per xdist worker), the scripted
upstream, the sandbox on a live server, and a real Celery worker (in a thread) consuming from the real Redis;
and the tiers (unit, integration, browser), given to every test by the fixtures it uses (tests/tiers.py).

Orders are made with tests/factories.py; the scripted sms4sats is tests/fake_upstream.py."""

import os
import runpy
import time
import uuid
from pathlib import Path

# Before settings load: keep this run's tasks and cache keys apart from any other run on the same Redis, and
# each pytest-xdist worker's apart from the other workers' (its name, gw0, gw1..., says whose keys they are).
_RUN = f"{uuid.uuid4().hex[:8]}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
os.environ["CELERY_QUEUE"] = f"sms4sats-test-{_RUN}"
os.environ["CACHE_KEY_PREFIX"] = f"sms4sats-test-{_RUN}"
os.environ.pop("SMS4SATS_API_URL", None)
os.environ.pop("SMS4SATS_API_KEY", None)
os.environ.pop("SMS4SATS_REF", None)
os.environ.setdefault("SANDBOX", "on")
# The developer's .env is for their shop: the manage.py and run.py the tests start must not read it.
os.environ["ENV_FILE"] = ""

import django  # noqa: E402
import pytest  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.utils import translation  # noqa: E402

from sms4sats_site import local_state  # noqa: E402

local_state.prepare()  # var/ for the SQLite test databases (the settings create no folder)

# The settings load here, after the lines above: named in pyproject.toml, pytest-django would load them before
# this file runs, and every run and xdist worker would share the default queue and cache prefix.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
django.setup()

from django.conf import settings  # noqa: E402

# Django's own hasher spends 0.3 s of CPU on each password, and the tests make hundreds of users (every
# admin_client among them): hundreds of seconds of a run. How Django hashes is not this project's to test.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _flush_by_delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """PostgreSQL's flush between transactional tests (a live server, a worker, a browser) as DELETEs, not one
    TRUNCATE: a TRUNCATE of the shop's tables takes 0.12-0.2 s on a quiet machine (new files for every table)
    and waits for an exclusive lock on each, seconds under the parallel run; a DELETE of a test's few rows takes
    milliseconds. Django's foreign keys are deferrable, so the order of the tables does not matter."""
    if reset_sequences or not tables:  # not used by the suite; Django's own way then
        return _truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    return ["SET CONSTRAINTS ALL DEFERRED"] + [f"DELETE FROM {self.quote_name(table)}" for table in tables]


from django.db.backends.postgresql.operations import DatabaseOperations  # noqa: E402

_truncate = DatabaseOperations.sql_flush
DatabaseOperations.sql_flush = _flush_by_delete

# The translations as `make test` compiles them, for a run started without make (bin/compile_messages.py).
runpy.run_path(str(Path(__file__).resolve().parent.parent / "bin" / "compile_messages.py"))["compile_messages"]()

from tests.browser import browser, chromium, new_page, page, shop  # noqa: E402, F401 - the browser tests' fixtures
from tests.local_servers import json_receiver, receiver, smtp_receiver  # noqa: E402, F401 - local HTTP and SMTP servers
from tests.tiers import mark_tiers, marked_tier  # noqa: E402
from tests.waiting import catalog_reads_landed, worker_idle  # noqa: E402, F401 - worker_idle registers its marker task


def pytest_configure(config):
    """Under pytest-xdist this process only hands out tests: its workers must not inherit its queue, prefix and
    settings module (named in the environment, the settings would load in a worker before its own conftest set
    its own queue and prefix)."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        for name in ("DJANGO_SETTINGS_MODULE", "CELERY_QUEUE", "CACHE_KEY_PREFIX"):
            os.environ.pop(name, None)


def pytest_collection_modifyitems(config, items):
    mark_tiers(items)
    # The browser tier first, then the integration tier, the unit tests last (each file in its order): the long
    # tests, which mostly wait on a browser, a worker or a process, start while the unit tests use the CPU beside
    # them, and the many short unit tests fill the end of a parallel run instead of one long test ending it alone.
    first = {"browser": 0, "integration": 1}
    items.sort(key=lambda item: first.get(marked_tier(item), 2))


def pytest_runtest_setup(item):
    if marked_tier(item) != "browser":
        chromium.close()  # the browser tier is over in this process (tests/browser.py)


def pytest_sessionfinish(session):
    chromium.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, whose sessions left by other threads (the live servers', the catalog's fetch
    threads) are ended before it is dropped: PostgreSQL would wait 5 s for them at the end of every xdist worker,
    then refuse to drop it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    name = connection.settings_dict["NAME"]
    connection.close()
    # From the server's maintenance database: no new session (a thread still running could connect again), then
    # the others ended, 2 s at most.
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {connection.ops.quote_name(name)} ALLOW_CONNECTIONS false")
        for _ in range(40):
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", [name])
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)


@pytest.fixture(autouse=True)
def _clear_cache():
    """After each test, remove this run's keys: its cache entries (and the shared client's keys beside them) and
    its Celery queues. Not cache.clear(): that is FLUSHDB, which would empty the other xdist workers' queues and
    caches on the same Redis in the middle of their tests."""
    yield
    catalog_reads_landed()
    redis = cache._cache.get_client(write=True)
    keys = list(redis.scan_iter(match=f"*{_RUN}*", count=1000))
    if keys:
        redis.delete(*keys)
    from shopsettings import runtime

    runtime.forget()  # the settings saved by a test are rolled back: no process keeps them


@pytest.fixture(autouse=True)
def _alerts_without_hysteresis():
    """Alerts at the first check that sees a change: the tests of one alert per start and clear. The hysteresis
    has its own tests (tests/test_alert_hysteresis.py), which set these. (Not the ``settings`` fixture: that would
    restore the settings after ``_clear_cache``, which then clears a Redis a test pointed elsewhere.) Likewise no
    grace period after a worker starts (tests/test_alert_start.py tests it)."""
    from django.test import override_settings

    with override_settings(ALERT_HOLD_SECONDS=0, ALERT_CLEAR_SECONDS=0, WORKER_START_GRACE_SECONDS=0):
        yield


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: LocaleMiddleware activates the request's language in the
    thread and leaves it there, so a test client request from a German browser would make the next test's
    messages German."""
    yield
    translation.deactivate()


@pytest.fixture
def patient_catalog(monkeypatch):
    """A web request waits up to 10 s for a catalog read, not the shop's 0.5 s: for tests of what a page does with
    the answer, where a loaded machine (the parallel run, CI) can keep even a quick read past the real budget and
    the page would say "slow" instead. Given with ``upstream``; the tests of a slow sms4sats take ``page_budget``."""
    from orders import catalog

    monkeypatch.setattr(catalog, "REQUEST_WAIT_BUDGET", 10)


@pytest.fixture
def page_budget(upstream, monkeypatch):
    """The shop's own wait for a catalog read in a web request (``catalog.REQUEST_WAIT_BUDGET``), for the tests of
    what a page does while sms4sats is slow (``upstream.delay``)."""
    from orders import catalog

    monkeypatch.setattr(catalog, "REQUEST_WAIT_BUDGET", catalog.WAIT_SECONDS)


@pytest.fixture
def upstream(monkeypatch, patient_catalog):
    """The scripted sms4sats behind the catalog (tests/fake_upstream.py); pages wait for it (patient_catalog)."""
    from tests.fake_upstream import FakeUpstream

    return FakeUpstream().install(monkeypatch)


@pytest.fixture
def sandbox_url(live_server, settings):
    """The sandbox API served by a live server, and the shop pointed at it."""
    url = live_server.url + settings.SANDBOX_API_PATH
    settings.SMS4SATS_API_URL = url
    settings.PUBLIC_BASE_URL = live_server.url
    return url


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker on the real Redis broker, running in this process's thread."""
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from sms4sats_site.celery import app

    # The worker looks at its stop flag between two waits on the broker (a BRPOP of 1 s by default): a second of
    # every test with a worker. A tenth of a second here; production keeps its default.
    app.conf.broker_transport_options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1}

    queues = [settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_CREATE_QUEUE]
    with start_worker(
        app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30, queues=queues
    ) as worker:
        yield worker


@pytest.fixture
def redis_down(settings):
    """The cache (rate limits, catalog) pointed at a port where nothing listens, as when Redis is down."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed}/0"}}
    yield


@pytest.fixture
def sms4sats_down(settings):
    """The shared upstream health state says "down", as after that many failed calls in a row (real Redis);
    up again afterwards."""
    from orders.sms4sats import upstream_health

    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "orderstatus: timed out")
    yield
    upstream_health._last_clean["at"] = 0.0
    upstream_health.record(True)
    upstream_health.take_recovery()
    upstream_health._last_clean["at"] = 0.0
