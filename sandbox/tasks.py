"""Webhook delivery for send orders. State is time-driven, so something has to run when it changes:
the pay action schedules one task per future smsStatus change, and the beat task
``sandbox.tasks.deliver_due_webhooks`` catches anything missed (e.g. no worker was running)."""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings

from sms4sats_site import outbound

from . import clock
from .models import SMS_STATUSES, SandboxOrder

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = 3.0
FINAL = ("delivered", "failed")


def origin(url):
    """scheme://host:port of a URL, default ports spelled out, so that equal origins compare equal."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return None
    return (parts.scheme.lower(), (parts.hostname or "").lower(), port)


def webhook_allowed(url):
    """The sandbox posts only to the shop it serves (PUBLIC_BASE_URL): never a server for anyone who asks."""
    return bool(url) and origin(url) == origin(settings.PUBLIC_BASE_URL)


def deliver_webhooks(order):
    """POST each smsStatus change that is due and not yet posted, oldest first. Fire-and-forget."""
    if not webhook_allowed(order.webhook_url):
        log.warning("sandbox: webhook to %s refused: not this shop's address (PUBLIC_BASE_URL)", order.webhook_url)
        return
    now = clock.now()
    for when, state in order.timeline():
        if when > now or state not in SMS_STATUSES:
            continue
        done = order.webhook_status
        if done and SMS_STATUSES.index(state) <= SMS_STATUSES.index(done):
            continue
        # Claim this status first (compare-and-set), so two runners never post it twice.
        claimed = SandboxOrder.objects.filter(pk=order.pk, webhook_status=done).update(webhook_status=state)
        if not claimed:
            return
        order.webhook_status = state
        try:
            # Only this shop's own address (webhook_allowed), so no address guard: the shop may be on 127.0.0.1.
            outbound.post(order.webhook_url, json=order.status_body(when), timeout=WEBHOOK_TIMEOUT, max_bytes=10_000)
        except outbound.OutboundError as exc:  # a webhook receiver's problem is never ours
            log.info("sandbox webhook to %s failed: %s", order.webhook_url, exc.reason)


@shared_task(name="sandbox.tasks.deliver_order_webhooks", ignore_result=True, soft_time_limit=30, time_limit=45)
def deliver_order_webhooks(order_id):
    order = SandboxOrder.objects.filter(order_id=order_id).first()
    if order and order.webhook_url:
        deliver_webhooks(order)


@shared_task(name="sandbox.tasks.deliver_due_webhooks", ignore_result=True, soft_time_limit=60, time_limit=75)
def deliver_due_webhooks():
    """Beat: every paid send order with a webhook whose last status is not final yet (last day only)."""
    since = clock.now() - timedelta(days=1)
    pending = (
        SandboxOrder.objects.filter(kind=SandboxOrder.SEND, paid_at__gte=since)
        .exclude(webhook_url="")
        .exclude(webhook_status__in=FINAL)
    )
    for order in pending:
        deliver_webhooks(order)


def schedule_webhooks(order_id):
    """One delayed task per future smsStatus change of a just-paid send order."""
    order = SandboxOrder.objects.filter(order_id=order_id).first()
    if order is None:
        return
    now = clock.now()
    try:
        for when, state in order.timeline():
            if state in SMS_STATUSES:
                delay = max(0.0, (when - now).total_seconds()) + 0.2
                deliver_order_webhooks.apply_async((order_id,), countdown=delay)
    except Exception as exc:  # no broker: the beat task will catch up
        log.warning("sandbox: could not schedule webhooks for %s: %s", order_id, exc)
