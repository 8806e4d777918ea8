"""Prometheus metrics of the shop: the counters and the collector (``GET /metrics`` is backoffice/metrics.py).

The web, worker and creator are separate processes (and containers), so what one of them counts must reach
whichever web process is scraped. Counters and the creation-latency histogram are therefore kept in Redis,
which every process already shares, and read back by a custom collector at each scrape (docs/design.md,
"Metrics", says why not prometheus-client's multiprocess mode). Gauges (orders by kind and status, poll lag,
creation lag) are computed at the scrape from the database, one aggregate query each.

Counting must cost almost nothing on the hot paths: ``count`` and ``observe_creation`` only add to a buffer
in the process; ``flush`` sends the buffer in one pipeline, at most every FLUSH_SECONDS. The status poll sends
it inside the pipeline it already makes (``status_cache.poll``, no extra round trip); Celery tasks flush when
they end; the scrape flushes its own process first. A process killed between two flushes loses at most its
last second of counts; a Redis restarted empty resets the counters (Prometheus' ``rate`` copes with resets).
Redis trouble never fails a request or a call: the counts are then dropped.

"""

import atexit
import logging
import threading
import time
from collections import Counter

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from sms4sats_site.shared_redis import shared_key, shared_redis

log = logging.getLogger(__name__)

PREFIX = "sms4sats_shop"
FLUSH_SECONDS = 1.0
# Seconds from an order's creation to its invoice being ready: a buyer waits on this.
CREATION_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)

# The counters kept in Redis: name -> (help, label names). A hash per counter, a field per label values.
COUNTERS = {
    "upstream_calls": (
        "Calls to sms4sats by endpoint and outcome (ok, or the error: unavailable, rejected, malformed).",
        ("endpoint", "outcome"),
    ),
    "upstream_entries_dropped": (
        "Parts of usable sms4sats answers left out as unusable (a catalog entry, a field of an order status), "
        "by endpoint.",
        ("endpoint",),
    ),
    "status_partial_answers": ("Answers of the buyer's status poll by HTTP status code.", ("code",)),
}
HISTOGRAM_KEY = "creation_seconds"
SEP = "|"

_lock = threading.Lock()
_pending = Counter()  # (metric, label values or histogram field) -> increment
_flushed = {"at": time.monotonic()}


def redis_key(name):
    return shared_key(f"metrics:{name}")


def count(name, *labels):
    """Add one to counter ``name`` with these label values (in this process; sent by the next flush)."""
    with _lock:
        _pending[name, labels] += 1


def observe_creation(seconds):
    """One order got its invoice ``seconds`` after it was created."""
    with _lock:
        for bound in CREATION_BUCKETS:
            if seconds <= bound:
                _pending[(HISTOGRAM_KEY, repr(float(bound)))] += 1
                break
        else:
            _pending[(HISTOGRAM_KEY, "+Inf")] += 1
        _pending[(HISTOGRAM_KEY, "sum_ms")] += round(seconds * 1000)


def _take(force):
    """The pending counts, emptied, if a flush is due (or forced); else None."""
    now = time.monotonic()
    if not _pending or (not force and now - _flushed["at"] < FLUSH_SECONDS):
        return None
    with _lock:
        taken = dict(_pending)
        _pending.clear()
        _flushed["at"] = now
    return taken


def _queue(pipe, taken):
    for (name, labels), amount in taken.items():
        pipe.hincrby(redis_key(name), labels if isinstance(labels, str) else SEP.join(labels), amount)


def add_to_pipeline(pipe, force=False):
    """Queue the pending counts on ``pipe`` if a flush is due (the caller executes it)."""
    taken = _take(force)
    if taken:
        _queue(pipe, taken)


def flush(force=False):
    """Send the pending counts to Redis now if a flush is due (or always with ``force``); nothing to send,
    nothing done."""
    taken = _take(force)
    if not taken:
        return
    try:
        pipe = shared_redis().pipeline(transaction=False)
        _queue(pipe, taken)
        pipe.execute()
    except Exception as exc:  # metrics never fail the work they count
        log.debug("Metrics not flushed (%s)", type(exc).__name__)


atexit.register(flush, force=True)


def read_counters():
    """{name: {field: value}} for every counter and the histogram, from Redis."""
    names = [*COUNTERS, HISTOGRAM_KEY]
    pipe = shared_redis().pipeline(transaction=False)
    for name in names:
        pipe.hgetall(redis_key(name))
    return {
        name: {field.decode(): int(value) for field, value in raw.items()}
        for name, raw in zip(names, pipe.execute(), strict=True)
    }


def reset():
    """Forget every count (tests)."""
    with _lock:
        _pending.clear()
    shared_redis().delete(*(redis_key(name) for name in [*COUNTERS, HISTOGRAM_KEY]))


# --- The collector: what a scrape reads -----------------------------------------------------------


# Functions yielding more metric families at each scrape, added by the apps built on the engine (the back office
# adds the books) in their AppConfig.ready: the engine imports none of them.
EXTRA_GAUGES = []


def add_gauges(gauges):
    if gauges not in EXTRA_GAUGES:
        EXTRA_GAUGES.append(gauges)


class ShopCollector(Collector):
    """Everything ``/metrics`` shows, read at each scrape: the counters from Redis, the gauges from the
    database (one aggregate query each) and Redis."""

    def collect(self):
        from . import process_health
        from .models import Kind, Order, Status
        from .sms4sats import upstream_health

        stored = read_counters()
        for name, (help_text, label_names) in COUNTERS.items():
            family = CounterMetricFamily(f"{PREFIX}_{name}", help_text, labels=label_names)
            for field, value in sorted(stored[name].items()):
                family.add_metric(field.split(SEP), value)
            yield family
        yield creation_histogram(stored[HISTOGRAM_KEY])

        orders = GaugeMetricFamily(f"{PREFIX}_orders", "Orders by kind and status.", labels=("kind", "status"))
        found = Counter(
            {
                (kind, status): n
                for kind, status, n in Order.objects.order_by().values_list("kind", "status").annotate(n=Count("pk"))
            }
        )
        for kind in Kind:
            for status in Status:
                orders.add_metric((kind.value, status.value), found[(kind.value, status.value)])
        yield orders

        for gauges in EXTRA_GAUGES:  # the side apps' own figures (the back office's books)
            yield from gauges()

        now = timezone.now()
        due = (
            Order.objects.filter(next_poll_at__lte=now).order_by().aggregate(n=Count("pk"), oldest=Min("next_poll_at"))
        )
        lag = 0.0 if due["oldest"] is None else (now - due["oldest"]).total_seconds()
        yield GaugeMetricFamily(f"{PREFIX}_orders_due", "Orders due for polling now.", value=due["n"])
        yield GaugeMetricFamily(
            f"{PREFIX}_poll_lag_seconds", "How late the most overdue order's poll is (0 when none is due).", value=lag
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_creation_lag_seconds",
            "Age of the oldest order waiting for its creation at sms4sats (the creation queue's lag).",
            value=process_health.creation_lag_seconds(),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_upstream_up",
            "1 while sms4sats answers, as the engine sees it.",
            value=int(upstream_health.state()["up"]),
        )
        age = process_health.heartbeat_age()
        if age is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_worker_heartbeat_age_seconds", "Seconds since a worker last beat.", value=age
            )


def creation_histogram(fields):
    """The creation-latency histogram from its Redis fields (a count per bucket, not cumulative, and ``sum_ms``)."""
    buckets, running = [], 0
    for bound in CREATION_BUCKETS:
        running += fields.get(repr(float(bound)), 0)
        buckets.append((repr(float(bound)), running))
    buckets.append(("+Inf", running + fields.get("+Inf", 0)))
    return HistogramMetricFamily(
        f"{PREFIX}_order_creation_seconds",
        "Seconds from an order's creation to its invoice (what the buyer waits for before paying).",
        buckets=buckets,
        sum_value=fields.get("sum_ms", 0) / 1000,
    )


# --- What a scrape reads -------------------------------------------------------------------------


def exposition():
    """The text a scrape of /metrics gets (backoffice/metrics.py serves it to those allowed): this process's
    latest counts sent first. Raises when the database or Redis is away."""
    flush(force=True)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShopCollector())
    return generate_latest(registry)
