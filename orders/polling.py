"""One poll cycle: claim the due orders, ask sms4sats about them concurrently, apply the answers."""

import asyncio
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import lifecycle
from .models import Order, Status
from .sms4sats import AsyncSms4satsClient, Sms4satsError

log = logging.getLogger(__name__)

# While a worker polls an order, its next_poll_at is pushed this far ahead, so that other workers
# skip it; if the worker dies, the order simply becomes due again.
CLAIM_SECONDS = 60


def claim_due_orders(limit, now=None):
    now = now or timezone.now()
    with transaction.atomic():
        due = Order.objects.filter(next_poll_at__lte=now).order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        orders = list(due[:limit])
        if orders:
            Order.objects.filter(pk__in=[o.pk for o in orders]).update(
                next_poll_at=now + timedelta(seconds=CLAIM_SECONDS)
            )
    return orders


async def fetch_statuses(upstream_ids, concurrency):
    """{upstream_id: OrderStatus or Sms4satsError}; one failure never stops the rest."""
    limit = asyncio.Semaphore(concurrency)
    results = {}
    async with AsyncSms4satsClient() as client:

        async def fetch(upstream_id):
            async with limit:
                try:
                    results[upstream_id] = await client.order_status(upstream_id)
                except Sms4satsError as exc:
                    results[upstream_id] = exc

        await asyncio.gather(*(fetch(uid) for uid in upstream_ids))
    return results


def poll_cycle(limit=None):
    """Poll every due order once. Returns a small report (counts and seconds)."""
    started = time.monotonic()
    orders = claim_due_orders(limit or settings.POLL_BATCH_SIZE)
    to_ask = [o for o in orders if o.upstream_id and o.status not in (Status.NEW, Status.CREATING)]
    results = asyncio.run(fetch_statuses([o.upstream_id for o in to_ask], settings.POLL_CONCURRENCY)) if to_ask else {}
    report = {"claimed": len(orders), "asked": len(to_ask), "errors": 0, "changed": 0}
    for order in orders:
        try:
            report["changed"] += apply_one(order, results.get(order.upstream_id))
        except Exception:  # one bad order must not stop the cycle; it is due again after the claim
            report["errors"] += 1
            log.exception("Applying the poll of order %s failed", order.public_id)
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def apply_one(order, result):
    from .tasks import create_order

    if order.status == Status.NEW:
        # The creation task was lost (for example Redis restarted): enqueue it again; the claim makes it once.
        lifecycle.schedule_next_poll(order)
        create_order.delay(order.pk)
        return 0
    if result is None:
        lifecycle.apply_local_deadlines(order)
        lifecycle.schedule_next_poll(order)
        return 0
    if isinstance(result, Sms4satsError):
        lifecycle.back_off(order, result.reason)
        lifecycle.apply_local_deadlines(order)
        return 0
    before = (order.status, order.sms_status, order.number, order.code)
    lifecycle.apply_status(order, result)
    changed = (order.status, order.sms_status, order.number, order.code) != before
    if not changed:
        lifecycle.schedule_next_poll(order)
    return int(changed)


def sweep(now=None):
    """Catch what fell through: creations stuck mid-call, and live orders nobody polled for too long."""
    now = now or timezone.now()
    report = {"stuck_creating": 0, "rescheduled": 0}
    stuck = Order.objects.filter(
        status=Status.CREATING, updated_at__lt=now - timedelta(seconds=settings.CREATE_STUCK_SECONDS)
    )
    for order in stuck:
        report["stuck_creating"] += lifecycle.transition(
            order, Status.FAILED, note="Creation never finished (worker lost mid-call)",
            failure_reason="The order could not be created. No invoice was shown and no money moved.",
        )
    forgotten = Order.objects.exclude(status__in=[Status.COMPLETED, Status.REFUNDED, Status.FAILED, Status.CREATING])
    forgotten = forgotten.filter(next_poll_at__isnull=True).exclude(status=Status.EXPIRED)
    report["rescheduled"] = forgotten.update(next_poll_at=now)
    return report
