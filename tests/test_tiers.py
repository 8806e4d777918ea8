"""The tiers (tests/tiers.py): every test is exactly one of unit, integration, browser, by what it uses, so
`make test-fast` (-m unit) never starts a live server, a worker, another process or Chromium."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.tiers import TIERS

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser  # filed by hand in the wrong tier: the rule decides


def run_python():
    return subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.fixture
def started():
    return run_python()


def test_pure():
    pass


def test_live(live_server):
    pass


def test_worker(celery_worker):
    pass


def test_webhook(receiver):
    pass


def test_process():
    run_python()


def test_process_fixture(started):
    pass


@pytest.mark.unit
def test_chromium(page):
    pass


def test_shop(shop, new_page):
    pass
"""

EXPECTED = {
    "test_pure": "unit",
    "test_live": "integration",
    "test_worker": "integration",
    "test_webhook": "integration",
    "test_process": "integration",
    "test_process_fixture": "integration",
    "test_chromium": "browser",
    "test_shop": "browser",
}


def collect(*args):
    """Test ids pytest collects from tests/ with these arguments (a fresh pytest, as `make test-fast` runs it)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: nothing selected
    return {line.split("::")[-1] for line in result.stdout.splitlines() if "::" in line}


def test_each_sample_test_lands_in_the_tier_of_what_it_uses(tmp_path):
    sample = ROOT / "tests" / f"test_zz_tiers_sample_{tmp_path.name}.py"
    sample.write_text(textwrap.dedent(SAMPLE))
    try:
        found = {tier: collect(str(sample.relative_to(ROOT)), "-m", tier) for tier in TIERS}
    finally:
        sample.unlink()
    for name, tier in EXPECTED.items():
        assert [t for t in TIERS if name in found[t]] == [tier], (name, found)


def test_every_test_of_the_suite_has_exactly_one_tier(request):
    items = request.session.items
    for item in items:
        tiers = [mark.name for mark in item.iter_markers() if mark.name in TIERS]
        assert len(tiers) == 1, (item.nodeid, tiers)
    # Every Chromium test is a browser test, whatever its file says.
    chromium = [item for item in items if {"browser", "page", "new_page"} & set(item.fixturenames)]
    assert all(item.get_closest_marker("browser") for item in chromium)
    # And no test the fast tier runs starts anything.
    for item in items:
        if item.get_closest_marker("unit"):
            assert not {"live_server", "celery_worker", "receiver", "shop"} & set(item.fixturenames), item.nodeid


def test_each_run_and_worker_has_its_own_queues_keys_and_database(settings, db):
    """tests/conftest.py sets the queue and the cache prefix before the settings load; under pytest-xdist each
    worker (gw0, gw1...) has its own, and its own test database."""
    from django.db import connection

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert settings.CELERY_TASK_DEFAULT_QUEUE.startswith("sms4sats-test-")
    assert settings.CELERY_TASK_DEFAULT_QUEUE.endswith(f"-{worker}")
    assert settings.CACHES["default"]["KEY_PREFIX"] == settings.CACHE_KEY_PREFIX == settings.CELERY_TASK_DEFAULT_QUEUE
    assert settings.CELERY_CREATE_QUEUE == f"{settings.CELERY_TASK_DEFAULT_QUEUE}-create"
    if worker != "main":
        assert connection.settings_dict["NAME"].endswith(f"_{worker}")


def test_the_suite_runs_the_browser_tier_first_and_the_unit_tier_last(request):
    """tests/conftest.py orders the tests by tier (the long, waiting ones first), each file in its order."""
    from tests.tiers import marked_tier

    tiers = [marked_tier(item) for item in request.session.items]
    assert tiers == sorted(tiers, key=["browser", "integration", "unit"].index)


@pytest.mark.django_db(transaction=True)
def test_the_flush_between_transactional_tests_empties_tables_linked_by_foreign_keys(django_user_model):
    """tests/conftest.py flushes PostgreSQL with DELETEs: rows that point at each other go, whatever the order."""
    from django.core.management import call_command

    from orders.models import Order, OrderEvent
    from tests.factories import make_order

    order = make_order()
    OrderEvent.objects.create(order=order, to_status="held", note="linked")
    django_user_model.objects.create_user("someone")
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert (Order.objects.count(), OrderEvent.objects.count(), django_user_model.objects.count()) == (0, 0, 0)
