"""Waiting for the real worker to move an order: beat does not run in tests, so the wait asks for a poll cycle."""

import time

from orders.tasks import poll_due_orders


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
