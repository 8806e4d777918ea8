"""What the shop sells right now: countries, services with prices, rentals, the price of one SMS.

Everything is read from Django's cache (Redis). ``refresh_all`` (a worker task, every 5 minutes) fills
it. On a miss, a web request may make one short upstream read (``CATALOG_TIMEOUT`` seconds) and cache
the answer; when the upstream is unavailable that is remembered for ``DOWN_SECONDS`` so later requests
answer at once instead of waiting on a dead host again.

**Single-flight misses.** A slow sms4sats must never hold the web's threads: one request per key fetches (a
lock in the cache, ``cache.add``), and at most ``WEB_FETCHES`` reads run at once per process. A web request's read
runs in a fetch thread of its own (``_fetch_pool``), not in the gunicorn thread: the request waits for it at most
``REQUEST_WAIT_BUDGET`` seconds in all, then answers from the last good copy (kept ``STALE_SECONDS``) or raises
``CatalogSlow`` (the buyer's service list and price then say so and ask again by themselves), while the read goes
on and fills the cache for the next look. A request that finds the key being fetched waits up to ``WAIT_SECONDS``
for the answer, one that finds no free fetch slot ``FETCH_SLOT_WAIT_SECONDS``. A worker's reads run in the
worker's own thread.

Errors leave this module as two exceptions, both with a buyer-facing ``reason``:
- ``CatalogUnavailable``: sms4sats cannot be asked now (down, slow, nonsense); ordering is disabled. Its
  ``CatalogSlow`` says an answer is on its way (a look in a few seconds may find it).
- ``NotOffered``: sms4sats answered, and it does not sell this (unknown country or service, no price).

Prices per service: ``services(cc)`` returns the list at once with the prices already known (filled by
``refresh_all`` for Auto-Select and for the countries buyers looked at recently, with bounded
concurrency); a missing price is read for the one service the buyer selects (``receive_price``).

Keeping it warm: beat runs ``refresh_all`` when it starts (sms4sats_site/celery.py) and every 5 minutes, so
prices are there from the first minute after a restart; a country whose price table is not cached (nobody
looked at it lately) is warmed by a worker at the first look (``needs_warming`` / ``warm_country``).
"""

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django import db
from django.conf import settings
from django.core.cache import cache
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .sms4sats import (
    AUTO_SELECT,
    AsyncSms4satsClient,
    Sms4satsClient,
    Sms4satsError,
    UpstreamRejected,
    upstream_health,
)

log = logging.getLogger(__name__)

BUNDLED_COUNTRIES = Path(__file__).resolve().parent / "data" / "sms4sats-countries.json"
RENTAL_SERVICE = "full"
DOWN_SECONDS = 30  # after a failed read, answer "unavailable" without asking again for this long
HOT_MAX = 20  # countries whose full price table the refresh keeps warm (besides Auto-Select)
HOT_SECONDS = 60 * 60  # a country stays "hot" this long after a buyer looked at it
PRICE_CONCURRENCY = 8  # parallel /price reads during a refresh

K_COUNTRIES = "catalog:countries"
K_RENTALS = "catalog:rentals"
K_SEND_PRICE = "catalog:send-price"
K_DOWN = "catalog:down"
K_HOT = "catalog:hot"
K_SLOW = "catalog:slow"
SLOW_SECONDS = 60  # /healthz says "slow" this long after a buyer's page was told to try again
WARMING_SECONDS = 60  # one warm-up of a country at a time, and at most one a minute
WAIT_SECONDS = 0.5  # a request whose key another request is fetching waits this long for its answer (a healthy
# sms4sats answers a catalog read in a few hundred ms; a longer wait only holds a thread: bench/peers.py)
WAIT_STEP_SECONDS = 0.05
STALE_SECONDS = 60 * 60  # the last good copy of each catalog read, served while a fetch of it is under way
WEB_FETCHES = 2  # upstream catalog reads at once per process (the fetch threads of a web process)
# A request that finds every fetch slot of its process taken waits only this long, then answers from the last good
# copy or "slow": a thread that cannot fetch has nothing to wait for.
FETCH_SLOT_WAIT_SECONDS = 0.25
_web_fetches = threading.BoundedSemaphore(WEB_FETCHES)

# Reasons are shown to buyers: lazy, so each is said in the language of the page that shows it.
UNAVAILABLE = _("sms4sats cannot be reached right now, so prices are unknown. Please try again in a minute.")
SLOW = _("sms4sats is slow to answer right now, so prices are unknown. Please try again in a minute.")


def _k_services(cc):
    return f"catalog:services:{cc}"


def _k_prices(cc):
    return f"catalog:prices:{cc}"


def _k_stale(key):
    return f"{key}:stale"


def _k_fetching(key):
    return f"{key}:fetching"


def _k_warming(cc):
    return f"catalog:warming:{cc}"


def _k_price(cc, code):
    return f"catalog:price:{cc}:{code}"


def _ttl():
    return settings.CATALOG_CACHE_SECONDS


def _timeout():
    return settings.CATALOG_TIMEOUT


class CatalogError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class CatalogUnavailable(CatalogError):
    """sms4sats cannot be asked now; ordering is disabled with this reason."""


class CatalogSlow(CatalogUnavailable):
    """sms4sats is slow: its answer is being read and cached; asking again in a few seconds may find it."""


class NotOffered(CatalogError):
    """sms4sats does not sell this (or has no price for it)."""


# Entries (plain, picklable, independent of the client's types) ---------------------------------


@dataclass(frozen=True)
class CountryEntry:
    cc: int
    name: str


@dataclass(frozen=True)
class Offer:
    code: str
    name: str
    count: int | None
    price: int | None = None  # sats; None while not known yet


@dataclass(frozen=True)
class RentalOffer:
    cc: int
    name: str
    weeks: int
    price: int


@dataclass(frozen=True)
class CountryList:
    countries: list
    available: bool  # False: names from the bundled list only; ordering must be disabled
    reason: str = ""


# Upstream access ----------------------------------------------------------------------------------

_client_lock = threading.Lock()
_client: tuple[tuple, Sms4satsClient] | None = None


def _web_client():
    """A shared client with the short web timeout (rebuilt when the settings change, or after a fork)."""
    global _client
    key = (os.getpid(), settings.SMS4SATS_API_URL, _timeout())
    with _client_lock:
        if _client is None or _client[0] != key:
            _client = (key, Sms4satsClient(timeout=_timeout()))
        return _client[1]


def unavailable_reason():
    """The reason ordering is disabled, when sms4sats failed recently; else None."""
    return UNAVAILABLE if _resting() else None


def _resting():
    """True for DOWN_SECONDS after a failed read, unless sms4sats has come back since (a poll's answer after an
    outage, upstream_health): the forms paused by the outage return as soon as it answers."""
    failed_at = _cache_get(K_DOWN)
    if not failed_at:
        return False
    return not (isinstance(failed_at, float) and upstream_health.answering_since() > failed_at)


def _mark_down(error):
    log.warning("catalog: sms4sats unavailable: %s", getattr(error, "reason", error))
    _cache_set(K_DOWN, time.time(), DOWN_SECONDS)


def _mark_up():
    try:
        cache.delete(K_DOWN)
    except Exception:  # noqa: BLE001
        log.warning("catalog: cache unreachable", exc_info=True)


def _cache_get(key, default=None):
    try:
        return cache.get(key, default)
    except Exception:  # noqa: BLE001 - Redis restarting: behave as a miss
        log.warning("catalog: cache read failed for %s", key, exc_info=True)
        return default


def _cache_set(key, value, timeout):
    try:
        cache.set(key, value, timeout)
    except Exception:  # noqa: BLE001 - Redis restarting: the value is simply not cached
        log.warning("catalog: cache write failed for %s", key, exc_info=True)


def _store(key, value, timeout=None):
    """Cache a catalog value, and its last good copy for when a fetch of it is under way."""
    _cache_set(key, value, timeout or _ttl())
    _cache_set(_k_stale(key), value, STALE_SECONDS)


# A web request's waits on sms4sats are bounded together. A page may read several catalog keys one after another
# (the countries, then a country's services): each may miss. Its reads run in fetch threads (below), and the request
# waits for them REQUEST_WAIT_BUDGET seconds in all, then answers from the last good copy or "slow" while the reads
# go on: a gunicorn thread is never held by sms4sats longer than that, so /ping and the pages of the other buyers
# never queue behind a slow sms4sats (bench/peers.py). A healthy sms4sats answers a catalog read well within it.
# Web requests only: the shop's app marks them (shop/apps.py); a worker's reads run in its own thread, unbounded
# but for the client's deadline (CATALOG_TIMEOUT).
REQUEST_WAIT_BUDGET = WAIT_SECONDS
_request = threading.local()


def web_request_started(**_kwargs):
    _request.active, _request.waited, _request.read_started = True, 0.0, None


def web_request_finished(**_kwargs):
    _request.active = False


def _in_web_request():
    return getattr(_request, "active", False)


def _budget_left():
    """What is left of a web request's budget, counting the read under way (its wait for a fetch slot included);
    None outside a web request."""
    if not _in_web_request():
        return None
    current = time.monotonic() - _request.read_started if _request.read_started is not None else 0.0
    return REQUEST_WAIT_BUDGET - _request.waited - current


def _read(key, fetch, *, timeout=None):
    """The cached value, or one short upstream read that is cached; CatalogError when it cannot be had."""
    value = _cache_get(key)
    if value is not None:
        return value
    if _resting():
        raise CatalogUnavailable(UNAVAILABLE)
    if _in_web_request() and _budget_left() <= 0:
        return _stale_or_slow(key)
    started = time.monotonic()
    if _in_web_request():
        _request.read_started = started
    try:
        return _read_missing(key, fetch, timeout)
    finally:
        if _in_web_request():
            _request.waited += time.monotonic() - started
            _request.read_started = None


def _read_missing(key, fetch, timeout):
    """A cache miss: this request fetches ``key`` (one at a time per key), or waits for the one that does."""
    if not _claim_fetch(key):
        return _wait_for(key)
    if not _web_fetches.acquire(timeout=FETCH_SLOT_WAIT_SECONDS):
        _release_fetch(key)
        return _stale_or_slow(key)
    if not _in_web_request():
        try:
            return _fetch_and_store(key, fetch, timeout)
        finally:
            _web_fetches.release()
    future = _fetch_pool().submit(_fetch_in_background, key, fetch, timeout)
    try:
        return future.result(timeout=max(0.0, _budget_left()))
    except concurrent.futures.TimeoutError:
        return _stale_or_slow(key)  # the read goes on, and caches its answer for the next look


def _fetch_and_store(key, fetch, timeout):
    """Read ``key`` from sms4sats (the claim on it is released whatever happens) and cache the answer."""
    try:
        value = fetch(_web_client())
    except UpstreamRejected as exc:
        raise NotOffered(format_lazy(_("sms4sats does not offer this: {reason}"), reason=exc.reason)) from exc
    except Sms4satsError as exc:
        _mark_down(exc)
        raise CatalogUnavailable(UNAVAILABLE) from exc
    finally:
        _release_fetch(key)
    _store(key, value, timeout)
    _mark_up()
    return value


def _fetch_in_background(key, fetch, timeout):
    try:
        return _fetch_and_store(key, fetch, timeout)
    except CatalogError:
        raise
    except Exception:  # a bug: said in the log, as the request that gave up waiting will not see it
        log.exception("catalog: reading %s failed", key)
        raise
    finally:
        _web_fetches.release()
        # A read may have loaded the operator's settings from the database (shopsettings.runtime): a thread
        # outside Django's request cycle closes its connection itself, or keeps an idle session for good.
        db.connections.close_all()


_pool_lock = threading.Lock()
_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None


def _fetch_pool():
    """This process's fetch threads (made again after a fork: threads do not survive one)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), concurrent.futures.ThreadPoolExecutor(WEB_FETCHES, "catalog-fetch"))
        return _pool[1]


def _claim_fetch(key):
    """True for the one request that fetches ``key`` now. The claim outlives the read's timeout a little, so a
    fetch that hangs past it lets the next request try."""
    try:
        return cache.add(_k_fetching(key), 1, int(_timeout()) + 2)
    except Exception:  # noqa: BLE001 - Redis away: nothing is cached either; each request reads for itself
        return True


def _release_fetch(key):
    try:
        cache.delete(_k_fetching(key))
    except Exception:  # noqa: BLE001 - the claim runs out by itself
        pass


def _wait_for(key):
    """Another request fetches ``key``: its answer within WAIT_SECONDS (or what is left of a web request's budget),
    else the last good copy, else SLOW."""
    left = _budget_left()
    deadline = time.monotonic() + (WAIT_SECONDS if left is None else min(WAIT_SECONDS, left))
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP_SECONDS)
        value = _cache_get(key)
        if value is not None:
            return value
        if _resting():
            raise CatalogUnavailable(UNAVAILABLE)
    return _stale_or_slow(key)


def _stale_or_slow(key):
    # Noted for /healthz: a read that hangs is not (yet) a failure that upstream_health counts.
    _cache_set(K_SLOW, time.time(), SLOW_SECONDS)
    value = _cache_get(_k_stale(key))
    if value is not None:
        return value
    raise CatalogSlow(SLOW)


def slow_since():
    """When a catalog read last had to give up waiting for sms4sats (within SLOW_SECONDS), else None."""
    return _cache_get(K_SLOW)


# Countries ----------------------------------------------------------------------------------------


def _country_entries(countries):
    by_cc = {}
    for country in countries:
        by_cc.setdefault(int(country.cc), CountryEntry(cc=int(country.cc), name=str(country.name)))
    auto = [by_cc.pop(AUTO_SELECT)] if AUTO_SELECT in by_cc else [CountryEntry(AUTO_SELECT, "Auto-Select")]
    return auto + sorted(by_cc.values(), key=lambda c: c.name.casefold())


@functools.cache
def bundled_country_rows():
    """The bundled country list's rows ({"cc", "country"}, several names per code): its one reader."""
    return tuple(json.loads(BUNDLED_COUNTRIES.read_text()))


def bundled_countries():
    """Names only, from the bundled list (for when sms4sats cannot be asked)."""
    return _country_entries(CountryEntry(cc=row["cc"], name=row["country"]) for row in bundled_country_rows())


def countries():
    """Every country, deduplicated by code, Auto-Select first. Never raises."""
    try:
        return CountryList(_read(K_COUNTRIES, lambda client: _country_entries(client.countries())), True)
    except CatalogError as exc:
        return CountryList(bundled_countries(), False, exc.reason)


def find_country(cc):
    for country in countries().countries:
        if country.cc == cc:
            return country
    return None


# Services and prices --------------------------------------------------------------------------------


def _offers(services):
    return [Offer(code=s.code, name=s.name, count=s.count) for s in services if s.code]


def _price_of(answer):
    value = answer.price if answer.price is not None else answer.receive
    if value is None or value <= 0:
        raise NotOffered(_("sms4sats has no price for this service in this country."))
    return int(value)


def _note_hot(cc):
    try:
        hot = cache.get(K_HOT) or {}
        now = time.time()
        if now - hot.get(cc, 0) > 60:  # write at most once a minute per country
            hot[cc] = now
            cache.set(K_HOT, dict(sorted(hot.items(), key=lambda kv: -kv[1])[:HOT_MAX]), HOT_SECONDS)
    except Exception:  # noqa: BLE001 - best effort only
        log.debug("catalog: could not note a hot country", exc_info=True)


def services(cc):
    """The services sold for country ``cc`` (name, numbers available, price when known)."""
    _note_hot(cc)
    offers = _read(_k_services(cc), lambda client: _offers(client.services(cc)))
    prices = dict(_cache_get(_k_prices(cc)) or {})
    missing = [o.code for o in offers if o.code not in prices]
    if missing:
        try:
            single = cache.get_many([_k_price(cc, code) for code in missing])
        except Exception:  # noqa: BLE001
            single = {}
        for code in missing:
            if _k_price(cc, code) in single:
                prices[code] = single[_k_price(cc, code)]
    return [Offer(o.code, o.name, o.count, prices.get(o.code)) for o in offers]


def find_service(cc, code):
    """The offer for ``code`` in country ``cc``, or None. Raises CatalogUnavailable."""
    for offer in services(cc):
        if offer.code == code:
            return offer
    return None


def most_available(code, instead_of):
    """(country entry, numbers available) where sms4sats lists the most numbers for service ``code``, among the
    countries whose lists are cached (no upstream call: one cache read), besides ``instead_of`` and Auto-Select;
    None when none has any. The "try another country" hint when the shop's own orders are too few to tell."""
    entries = [c for c in countries().countries if c.cc not in (instead_of, AUTO_SELECT)]
    try:
        cached = cache.get_many([_k_services(c.cc) for c in entries])
    except Exception:  # noqa: BLE001 - Redis restarting: no hint
        return None
    best = None
    for country in entries:
        offer = next((o for o in cached.get(_k_services(country.cc)) or () if o.code == code), None)
        if offer and offer.count and (best is None or offer.count > best[1]):
            best = (country, offer.count)
    return best


def receive_price(cc, code):
    """The exact price (sats) of a number for ``code`` in country ``cc``."""
    prices = _cache_get(_k_prices(cc)) or {}
    if code in prices:
        return prices[code]
    return _read(_k_price(cc, code), lambda client: _price_of(client.price(country=cc, service=code)))


# Rentals and sending ---------------------------------------------------------------------------------


def _rental_offers(rentals):
    by_cc = {}
    for r in rentals:
        if r.price > 0 and r.weeks > 0:
            by_cc.setdefault(r.cc, RentalOffer(cc=r.cc, name=r.name, weeks=r.weeks, price=r.price))
    return sorted(by_cc.values(), key=lambda r: r.name.casefold())


def rental_countries():
    return _read(K_RENTALS, lambda client: _rental_offers(client.rental_countries(RENTAL_SERVICE)))


def find_rental(cc):
    for offer in rental_countries():
        if offer.cc == cc:
            return offer
    return None


def _send_price_of(answer):
    if answer.send is None or answer.send <= 0:
        raise NotOffered(_("sms4sats did not quote a price for sending an SMS."))
    return int(answer.send)


def send_price():
    return _read(K_SEND_PRICE, lambda client: _send_price_of(client.price()))


# The refresh (a worker task) ---------------------------------------------------------------------------


async def _price_table(client, cc, offers):
    semaphore = asyncio.Semaphore(PRICE_CONCURRENCY)

    async def one(code):
        async with semaphore:
            try:
                return code, _price_of(await client.price(country=cc, service=code))
            except (Sms4satsError, NotOffered) as exc:
                log.info("catalog: no price for %s/%s: %s", cc, code, getattr(exc, "reason", exc))
                return code, None

    results = await asyncio.gather(*(one(o.code) for o in offers))
    return {code: price for code, price in results if price is not None}


async def _refresh_prices(countries_to_warm):
    async with AsyncSms4satsClient() as client:
        done = {}
        for cc in countries_to_warm:
            try:
                offers = _offers(await client.services(cc))
            except Sms4satsError as exc:
                log.warning("catalog: services for %s: %s", cc, exc.reason)
                continue
            table = await _price_table(client, cc, offers)
            done[cc] = (offers, table)
        return done


def needs_warming(cc):
    """True once when ``cc``'s price table is not cached: the caller then has ``warm_country`` run (a task).
    Later calls within WARMING_SECONDS answer False, so one buyer's look warms a country once."""
    # Not while sms4sats is down or slow: each warm-up would hold a worker process for its whole time limit.
    if _cache_get(_k_prices(cc)) is not None or _resting() or _cache_get(K_SLOW):
        return False
    try:
        return cache.add(_k_warming(cc), 1, WARMING_SECONDS)
    except Exception:  # noqa: BLE001 - Redis away: no warm-up; the selected service's price is still read
        return False


def warm_country(cc):
    """Read the services and every price of one country now and cache them (a worker task). Returns how
    many prices are known."""
    try:
        tables = asyncio.run(_refresh_prices([cc]))
    except Exception:  # noqa: BLE001 - never crash the worker; the next refresh or look tries again
        log.exception("catalog: warming country %s", cc)
        return 0
    for warmed, (offers, table) in tables.items():
        _store(_k_services(warmed), offers)
        _cache_set(_k_prices(warmed), table, _ttl())
    return sum(len(table) for _, table in tables.values())


def refresh_all():
    """Fill the cache from sms4sats: countries, rentals, the SMS price, and price tables for Auto-Select
    and recently viewed countries. Returns a summary; failures are logged and counted, never raised."""
    client = Sms4satsClient()
    summary = {"countries": 0, "rentals": 0, "send_price": None, "price_tables": 0, "errors": 0}
    steps = [
        ("countries", K_COUNTRIES, lambda: _country_entries(client.countries())),
        ("rentals", K_RENTALS, lambda: _rental_offers(client.rental_countries(RENTAL_SERVICE))),
        ("send_price", K_SEND_PRICE, lambda: _send_price_of(client.price())),
    ]
    try:
        for name, key, fetch in steps:
            try:
                value = fetch()
            except (Sms4satsError, NotOffered) as exc:
                log.warning("catalog refresh: %s: %s", name, exc.reason)
                summary["errors"] += 1
                continue
            _store(key, value)
            summary[name] = value if name == "send_price" else len(value)
    finally:
        client.close()

    hot = [cc for cc, _ in sorted((cache.get(K_HOT) or {}).items(), key=lambda kv: -kv[1])]
    warm = [AUTO_SELECT] + [cc for cc in hot if cc != AUTO_SELECT][:HOT_MAX]
    try:
        tables = asyncio.run(_refresh_prices(warm))
    except Exception:  # noqa: BLE001 - a refresh must never crash the worker
        log.exception("catalog refresh: price tables")
        tables = {}
        summary["errors"] += 1
    for cc, (offers, table) in tables.items():
        _store(_k_services(cc), offers)
        cache.set(_k_prices(cc), table, _ttl())
    summary["price_tables"] = len(tables)
    if summary["countries"] or tables:
        _mark_up()
    elif summary["errors"]:
        _mark_down(CatalogError("refresh failed"))
    return summary
