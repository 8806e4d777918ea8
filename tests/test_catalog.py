"""The catalog: cache first, one short upstream read on a miss, a calm "unavailable" when sms4sats is down.

``upstream`` (conftest.py) is the scripted sms4sats of tests/fake_upstream.py."""

import json
import time

import pytest
from django.core.cache import cache

from orders import catalog
from orders.models import Order
from orders.sms4sats import Country
from tests.waiting import catalog_reads_landed


def test_countries_deduplicated_auto_select_first_sorted_and_cached(upstream):
    upstream.countries_list.append(Country(0, "Russian", True))  # a second name for cc 0
    first = catalog.countries()
    assert first.available
    assert [c.cc for c in first.countries] == [999, 16, 43, 0, 187]  # Auto-Select, then by name
    assert [c.name for c in first.countries].count("Russia") == 1
    assert "Russian" not in [c.name for c in first.countries]
    catalog.countries()
    assert [c[0] for c in upstream.calls].count("countries") == 1


def test_countries_fall_back_to_bundled_names_when_down_and_stop_asking(upstream):
    upstream.down = True
    result = catalog.countries()
    assert not result.available
    assert result.reason
    assert result.countries[0].cc == 999
    ccs = [c.cc for c in result.countries]
    assert len(ccs) == len(set(ccs)) > 100
    assert catalog.unavailable_reason()
    calls = len(upstream.calls)
    catalog.countries()
    with pytest.raises(catalog.CatalogUnavailable):
        catalog.services(999)
    assert len(upstream.calls) == calls  # the down marker answers at once


def test_recovery_clears_the_down_marker(upstream):
    upstream.down = True
    catalog.countries()
    assert catalog.unavailable_reason()
    upstream.down = False
    catalog.refresh_all()
    assert catalog.unavailable_reason() is None
    assert catalog.countries().available


def test_the_rest_after_a_failure_ends_when_sms4sats_answers_again(upstream, settings):
    from orders.sms4sats import upstream_health

    upstream.down = True
    catalog.countries()
    assert catalog.unavailable_reason()  # resting: no page asks a dead host again for DOWN_SECONDS
    upstream.down = False
    assert catalog.unavailable_reason()  # nothing says it answers yet
    upstream_health._last_clean["at"] = 0.0
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "orderstatus: unreachable")
    upstream_health.record(True)  # a poll's answer: sms4sats is back
    upstream_health.take_recovery()
    assert catalog.unavailable_reason() is None  # the paused forms come back now, not 30 s later
    assert catalog.countries().available


def test_services_then_price_lazily_for_the_selected_service(upstream):
    offers = catalog.services(43)
    assert [(o.code, o.count, o.price) for o in offers] == [("tg", 50, None), ("ds", 7, None)]
    assert catalog.receive_price(43, "tg") == 2100
    assert catalog.receive_price(43, "tg") == 2100
    assert [c for c in upstream.calls if c[0] == "price"] == [("price", 43, "tg")]
    # The lazily read price now shows in the list too.
    assert [o.price for o in catalog.services(43)] == [2100, None]
    assert [c[0] for c in upstream.calls].count("services") == 1


def test_unknown_service_or_country_is_not_offered(upstream):
    with pytest.raises(catalog.NotOffered):
        catalog.receive_price(43, "zz")
    with pytest.raises(catalog.NotOffered):
        catalog.services(12345)
    assert catalog.find_service(43, "zz") is None
    assert catalog.unavailable_reason() is None  # a refusal is not an outage


def test_rentals_and_send_price(upstream):
    rentals = catalog.rental_countries()
    assert [(r.cc, r.weeks, r.price) for r in rentals] == [(16, 2, 4815), (6, 4, 1368)]
    assert catalog.find_rental(6).weeks == 4
    assert catalog.find_rental(43) is None
    assert catalog.send_price() == 3000


def test_refresh_all_fills_everything_and_price_tables(upstream):
    summary = catalog.refresh_all()
    assert summary["countries"] == 5
    assert summary["rentals"] == 2
    assert summary["send_price"] == 3000
    assert summary["price_tables"] == 1  # Auto-Select; no country looked at yet
    upstream.calls.clear()
    assert [o.price for o in catalog.services(999)] == [1500, 1600, 1700]
    assert catalog.receive_price(999, "go") == 1700
    assert catalog.countries().available
    assert upstream.calls == []  # everything from the cache


def test_refresh_warms_countries_buyers_looked_at(upstream):
    catalog.services(43)
    summary = catalog.refresh_all()
    assert summary["price_tables"] == 2
    assert [o.price for o in catalog.services(43)] == [2100, 2200]


def test_refresh_all_when_down_marks_unavailable_without_raising(upstream):
    upstream.down = True
    summary = catalog.refresh_all()
    assert summary["errors"] >= 3
    assert catalog.unavailable_reason()


def test_against_the_sandbox_over_http(sandbox_url, settings):
    summary = catalog.refresh_all()
    assert summary["errors"] == 0
    assert summary["countries"] > 100
    offers = catalog.services(999)
    assert offers and all(o.price and o.price > 0 for o in offers)
    assert catalog.send_price() > 0
    assert catalog.rental_countries()
    germany = catalog.services(43)
    assert catalog.receive_price(43, germany[0].code) > 0


def test_a_country_nobody_looked_at_is_warmed_once(upstream):
    assert [o.price for o in catalog.services(43)] == [None, None]
    assert catalog.needs_warming(43)
    assert not catalog.needs_warming(43)  # one warm-up at a time
    assert catalog.warm_country(43) == 2
    assert [o.price for o in catalog.services(43)] == [2100, 2200]
    cache.delete(catalog._k_warming(43))
    assert not catalog.needs_warming(43)  # its table is cached now


def test_no_warming_while_sms4sats_is_down(upstream):
    upstream.down = True
    catalog.countries()
    assert not catalog.needs_warming(43)
    assert catalog.warm_country(43) == 0


def wait_for_prices(cc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            offers = catalog.services(cc)
        except catalog.CatalogError:
            offers = []
        if offers and all(o.price for o in offers):
            return offers
        time.sleep(0.2)
    raise AssertionError(f"country {cc}: not every service has a price")


def test_beat_start_warms_the_catalog(sandbox_url, celery_worker):
    from celery.signals import beat_init

    assert cache.get(catalog._k_prices(catalog.AUTO_SELECT)) is None
    beat_init.send(sender=None)  # what `celery beat` sends when it starts
    assert wait_for_prices(catalog.AUTO_SELECT)


def test_the_first_look_at_a_country_warms_its_prices(sandbox_url, patient_catalog, celery_worker, client):
    assert client.get("/catalog/services", {"country": 52}).status_code == 200  # Thailand: nobody looked at it
    assert len(wait_for_prices(52)) > 10


# --- One bad entry drops that entry, never the catalog (issue #23) ---

BAD_CATALOG = {
    "/getCountries": [
        {"id": 999, "eng": "Auto-Select"},
        {"id": 5},  # no name
        {"id": 43, "eng": "Germany", "rent": 1},
        {"eng": "Nowhere"},  # no id
        {"id": 16, "eng": "England"},
    ],
    "/getnumbersstatus?country=43": [
        {"text": "No value", "count": "3"},
        {"value": "tg", "text": "Telegram", "count": "50"},
        {"value": "ds", "text": "Discord", "count": "x"},
    ],
    "/getnumbersstatus?country=999": [{"value": "tg", "text": "Telegram", "count": "9"}, {"value": {"x": 1}}],
    "/price?country=43&service=tg": {"receive": "2100", "computed": {"price": 2100, "country": 43}},
    "/price?country=43&service=ds": {"receive": "cheap", "computed": {"price": "cheap"}},
    "/getRentalCountries?service=full": [
        {"cc": 16, "country": "England", "duration": "2", "price": "a lot"},
        {"cc": 6, "country": "Indonesia", "duration": "4", "price": 1368},
    ],
}


@pytest.fixture
def bad_catalog(settings, monkeypatch):
    """A real sms4sats over HTTP (on 127.0.0.1) whose answers each hold one bad entry beside good ones."""
    from orders import metrics
    from tests.local_servers import LocalHttpServer

    counted = []
    monkeypatch.setattr(metrics, "count", lambda name, *labels: counted.append((name, *labels)))
    routes = {path: (200, json.dumps(body).encode()) for path, body in BAD_CATALOG.items()}
    with LocalHttpServer(routes) as server:
        settings.SMS4SATS_API_URL = server.url.rstrip("/")
        yield counted


@pytest.mark.django_db
def test_one_bad_entry_drops_that_entry_and_the_rest_is_sold(bad_catalog, client):
    listed = catalog.countries()
    assert listed.available and catalog.unavailable_reason() is None
    assert [c.name for c in listed.countries] == ["Auto-Select", "England", "Germany"]
    assert [(o.code, o.count) for o in catalog.services(43)] == [("tg", 50), ("ds", None)]
    assert catalog.receive_price(43, "tg") == 2100
    with pytest.raises(catalog.NotOffered):  # a bad price: that service has none, the others do
        catalog.receive_price(43, "ds")
    assert [(r.cc, r.price) for r in catalog.rental_countries()] == [(6, 1368)]
    assert catalog.unavailable_reason() is None
    dropped = [entry for entry in bad_catalog if entry[0] == "upstream_entries_dropped"]
    assert sorted(dropped) == sorted(
        [("upstream_entries_dropped", "getCountries")] * 2
        + [("upstream_entries_dropped", "getnumbersstatus")]
        + [("upstream_entries_dropped", "price")] * 2
        + [("upstream_entries_dropped", "getRentalCountries")]
    )
    # The buyer's pages: no "cannot be reached", and Germany's Telegram can be ordered.
    html = client.get("/").content.decode()
    assert "banner-down" not in html and "Ordering is paused." not in html and ">Germany<" in html
    response = client.post("/", {"country": 43, "service": "tg"})
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.country_code, order.service_code, order.quoted_sats) == (43, "tg", 2100)


def test_an_answer_that_is_no_list_is_still_malformed(settings):
    from tests.local_servers import LocalHttpServer

    with LocalHttpServer({"/getCountries": (200, b'{"status": "OK"}')}) as server:
        settings.SMS4SATS_API_URL = server.url.rstrip("/")
        listed = catalog.countries()
    assert not listed.available and catalog.unavailable_reason()


# --- Single-flight misses: a slow sms4sats never holds the web's threads ---------------------------------


def race(threads, read):
    """Run ``read`` in ``threads`` threads at once; each one's (value or exception, seconds)."""
    import threading

    results = [None] * threads
    start = threading.Barrier(threads)

    def one(i):
        start.wait()
        began = time.monotonic()
        try:
            results[i] = (read(i), time.monotonic() - began)
        except catalog.CatalogError as exc:
            results[i] = (exc, time.monotonic() - began)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_a_cold_key_is_fetched_once_however_many_requests_race_for_it(upstream):
    # Long enough for all six to meet the fetch in flight, well inside the waiters' WAIT_SECONDS (0.5 s): at 0.4 s
    # a loaded machine's overhead made a waiter give up ("slow") now and then.
    upstream.delay = 0.2
    results = race(6, lambda i: catalog.services(43))
    assert [c[0] for c in upstream.calls].count("services") == 1
    assert all([o.code for o in value] == ["tg", "ds"] for value, _ in results)


def test_a_request_waits_about_a_second_then_gets_the_last_good_copy(upstream):
    catalog.services(43)
    cache.delete(catalog._k_services(43))  # expired; the last good copy stays
    upstream.delay = 2.5
    results = race(3, lambda i: catalog.services(43))
    waiters = sorted(results, key=lambda r: r[1])[:2]
    for value, seconds in waiters:
        assert [o.code for o in value] == ["tg", "ds"] and seconds < 1.5
    assert [c[0] for c in upstream.calls].count("services") == 2  # the first read and the one slow fetch


def test_without_a_copy_the_waiters_are_told_to_try_again(upstream):
    upstream.delay = 2.5
    results = race(3, lambda i: catalog.services(43))
    waiters = sorted(results, key=lambda r: r[1])[:2]
    for error, seconds in waiters:
        assert isinstance(error, catalog.CatalogUnavailable) and seconds < 1.5
        assert "slow" in str(error.reason)
    assert [c[0] for c in upstream.calls].count("services") == 1


def test_a_process_reads_at_most_two_cold_keys_at_once(upstream):
    upstream.delay = 1.5
    countries = [999, 43, 0, 187, 16, 999]
    results = race(5, lambda i: catalog.services(countries[i]))
    assert upstream.most_in_flight == catalog.WEB_FETCHES == 2
    refused = [value for value, seconds in results if isinstance(value, catalog.CatalogUnavailable)]
    # a request without a free fetch slot answers at once ("slow"), not after a whole wait: threads stay free
    assert len(refused) == 3 and all(seconds < 0.8 for value, seconds in results if value in refused)


# db: Django's own receivers of the request signals close old database connections.
def test_a_page_never_waits_on_a_slow_sms4sats_beyond_its_budget_and_the_read_goes_on(upstream, page_budget, db):
    from django.core.signals import request_finished, request_started

    upstream.delay = 1.2
    request_started.send(sender=None)  # as the web handler does at each request (shop/apps.py connects it)
    try:
        began = time.monotonic()
        with pytest.raises(catalog.CatalogSlow):  # not the whole 1.2 s read: the thread goes back to gunicorn
            catalog.services(43)
        assert catalog.REQUEST_WAIT_BUDGET - 0.05 <= time.monotonic() - began < catalog.REQUEST_WAIT_BUDGET + 0.3
        began = time.monotonic()
        with pytest.raises(catalog.CatalogSlow):
            catalog.services(187)  # another cold key in the same request: at once, its budget is spent
        assert time.monotonic() - began < 0.2
    finally:
        request_finished.send(sender=None)
    catalog_reads_landed()  # the read started by the page finishes in its fetch thread and is cached
    calls = len(upstream.calls)
    assert [o.code for o in catalog.services(43)] == ["tg", "ds"]
    assert len(upstream.calls) == calls  # the next look finds it: no second read
    assert catalog.services(187)  # a worker, or the next request: fetched as usual


def test_a_page_gets_a_quick_read_it_started_and_its_errors(upstream, db):
    from django.core.signals import request_finished, request_started

    upstream.delay = 0.1
    request_started.send(sender=None)
    try:
        assert [o.code for o in catalog.services(43)] == ["tg", "ds"]  # read in a fetch thread, awaited
        with pytest.raises(catalog.NotOffered):  # sms4sats said no: said to the page, not "slow"
            catalog.services(5)
    finally:
        request_finished.send(sender=None)


def test_the_wait_for_a_fetch_slot_counts_against_the_budget(upstream, page_budget, db, monkeypatch):
    """A page that waited for a free fetch slot has that much less to wait for the read: a gunicorn thread is
    held by sms4sats at most REQUEST_WAIT_BUDGET in all."""
    import threading

    from django.core.signals import request_finished, request_started

    # A slot that frees up after 0.4 s (a page would wait 0.25 s for one; longer here, so that a page that did not
    # count the wait takes at least 0.4 s more than its budget, well apart from a loaded machine's delays).
    monkeypatch.setattr(catalog, "FETCH_SLOT_WAIT_SECONDS", 1.0)
    upstream.delay = 1.2
    taken = [catalog._web_fetches.acquire(timeout=5) for _ in range(catalog.WEB_FETCHES)]
    assert all(taken)
    threading.Timer(0.4, catalog._web_fetches.release).start()
    request_started.send(sender=None)
    try:
        began = time.monotonic()
        with pytest.raises(catalog.CatalogSlow):
            catalog.services(43)
        assert time.monotonic() - began < catalog.REQUEST_WAIT_BUDGET + 0.25  # not 0.4 s more
    finally:
        request_finished.send(sender=None)
        for _ in range(catalog.WEB_FETCHES - 1):
            catalog._web_fetches.release()


def test_a_fetch_thread_leaves_no_database_session_open(upstream, db, monkeypatch):
    """A read in a fetch thread may load the operator's settings from the database; outside Django's request
    cycle nothing closes that connection but the thread itself (else one idle session per thread, for good)."""
    import threading

    from django import db as django_db
    from django.core.signals import request_finished, request_started

    closed_in = []
    close_all = django_db.connections.close_all
    monkeypatch.setattr(
        django_db.connections, "close_all", lambda: (closed_in.append(threading.current_thread().name), close_all())
    )
    request_started.send(sender=None)
    try:
        assert catalog.services(43)  # read in a fetch thread, awaited
    finally:
        request_finished.send(sender=None)
    assert any(name.startswith("catalog-fetch") for name in closed_in)


def test_quick_reads_leave_a_page_its_budget(upstream, page_budget, db):
    from django.core.signals import request_finished, request_started

    upstream.delay = 0.05
    request_started.send(sender=None)
    try:
        assert catalog.services(43) and catalog.services(187) and catalog.services(999)  # a healthy sms4sats
    finally:
        request_finished.send(sender=None)
