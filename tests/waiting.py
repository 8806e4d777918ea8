"""Waiting on a condition, never for a fixed time: for the real worker to move an order (beat does not run in
tests, so the wait asks for a poll cycle), for the worker to have run what is queued, or for any predicate."""

import threading
import time
import uuid

from orders.tasks import poll_due_orders
from sms4sats_site.celery import app


def wait_for(order, predicate, seconds=30):
    """Have the worker poll until the order satisfies ``predicate``; fail naming its status and events."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if predicate(order):
            return order
        poll_due_orders.delay()
        time.sleep(0.2)
    order.refresh_from_db()
    raise AssertionError(
        f"order stuck in {order.status} (sms {order.sms_status!r}): {[e.note for e in order.events.all()]}"
    )


def status_is(*statuses):
    return lambda order: order.status in statuses


def polled_again(order, times=1):
    """A predicate for ``wait_for``: the worker has polled the order ``times`` more since now."""
    seen = [order.last_polled_at]

    def predicate(current):
        if current.last_polled_at != seen[-1]:
            seen.append(current.last_polled_at)
        return len(seen) > times

    return predicate


def until(predicate, seconds=30, what="the condition"):
    """Return as soon as ``predicate()`` is true (its value); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {seconds} s")


def catalog_reads_landed(seconds=10):
    """Return once every catalog read under way in a fetch thread has landed (cached its answer): a page's read goes
    on after the page has answered "slow" (orders/catalog.py). Each test's end waits for them (tests/conftest.py),
    or a read would cache its answer into the next test."""
    from orders import catalog

    taken = sum(catalog._web_fetches.acquire(timeout=seconds) for _ in range(catalog.WEB_FETCHES))
    for _ in range(taken):
        catalog._web_fetches.release()


_ran = {}


@app.task(name="tests.waiting.marker", ignore_result=True, soft_time_limit=5, time_limit=10)
def _marker(key):
    _ran[key].set()


def worker_idle(seconds=30):
    """Wait until the real worker (tests/conftest.py, one task at a time, in order per queue) has run every task
    queued so far: a marker sent to each of its queues after them has run. Before asserting that something
    did not happen, instead of sleeping for "long enough"."""
    from django.conf import settings

    for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_CREATE_QUEUE):
        key = uuid.uuid4().hex
        _ran[key] = threading.Event()
        _marker.apply_async(args=[key], queue=queue)
        assert _ran[key].wait(seconds), f"the worker did not reach the end of queue {queue} in {seconds} s"
        del _ran[key]
