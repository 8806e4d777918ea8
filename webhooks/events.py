"""Order events for webhooks, recorded by the lifecycle in the transaction of the change they describe.

``record_order_change`` is the one hook: it receives ``orders.signals.order_changed``, which the lifecycle
sends where an order's row changes (``transition`` and ``record_change``) inside that change's transaction,
so every status move and SMS change is seen, and an event exists exactly when its change was committed
(connected in ``WebhooksConfig.ready``). The deliveries are enqueued after the commit; if the broker is down
they stay due and the beat sweep sends them.

What the body says about an order (``order_data``) is chosen for privacy: no phone number, no code, no SMS
text, no invoice. A receiver that needs them has the admin (``admin_url``).
"""

import copy
import json

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from orders.models import SMS_SENT_STATUSES, SmsStatus, Status

from .models import Delivery, Endpoint, Event, EventType

DELIVER_TASK = "webhooks.tasks.deliver"

STATUS_EVENTS = {
    Status.HELD: EventType.ORDER_PAID,
    Status.COMPLETED: EventType.ORDER_COMPLETED,
    Status.REFUNDED: EventType.ORDER_REFUNDED,
    Status.EXPIRED: EventType.ORDER_EXPIRED,
    Status.FAILED: EventType.ORDER_FAILED,
}


def event_types(order, to_status, fields):
    """What the change of ``order`` (as it is before) to ``to_status`` and ``fields`` tells subscribers."""
    types = []
    if to_status != order.status and to_status in STATUS_EVENTS:
        types.append(STATUS_EVENTS[to_status])
    sms_status = fields.get("sms_status", order.sms_status)
    # sms4sats may report "delivered" without a "sent" first: a delivered SMS was sent.
    if sms_status in SMS_SENT_STATUSES and order.sms_status not in SMS_SENT_STATUSES:
        types.append(EventType.SMS_SENT)
    if sms_status == SmsStatus.DELIVERED and order.sms_status != SmsStatus.DELIVERED:
        types.append(EventType.SMS_DELIVERED)
    if fields.get("sms_count", order.sms_count) > order.sms_count:
        types.append(EventType.RENTAL_SMS_RECEIVED)
    return types


def record_order_change(order, to_status, fields, now):
    """Record the events of this change for the active endpoints that subscribe to them (inside the caller's
    transaction) and enqueue their deliveries after the commit. Returns the events recorded."""
    types = event_types(order, to_status, fields)
    if not types:
        return []
    endpoints = list(Endpoint.objects.filter(active=True))
    after = copy.copy(order)
    after.status = to_status
    for name, value in fields.items():
        setattr(after, name, value)
    events, deliveries = [], []
    for event_type in types:
        subscribers = [endpoint for endpoint in endpoints if endpoint.wants(event_type)]
        if not subscribers:
            continue
        event = Event(type=event_type, created_at=now, order=order)
        event.body = event_body(event, after)
        event.save()
        events.append(event)
        for endpoint in subscribers:
            deliveries.append(Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now))
    enqueue_deliveries(deliveries)
    return events


def on_order_changed(sender, *, order, to_status, fields, at, **kwargs):
    """The receiver of ``orders.signals.order_changed``."""
    record_order_change(order, to_status, fields, at)


def event_body(event, order):
    """The JSON every endpoint receives for ``event``, fixed once (a redelivery sends the same bytes)."""
    body = {
        "id": str(event.public_id),
        "type": event.type,
        "created": event.created_at.isoformat(),
        "data": order_data(order),
    }
    return json.dumps(body, separators=(",", ":"))


def order_data(order):
    """An order's public fields: what an operator's system needs to follow it, nothing personal."""

    def moment(value):
        return value.isoformat() if value else None

    return {
        "public_id": str(order.public_id),
        "kind": order.kind,
        "status": order.status,
        "service_code": order.service_code or None,
        "service_name": order.service_name or None,
        "country_code": order.country_code,
        "country_name": order.country_name or None,
        "amount_sats": order.invoice_sats or order.quoted_sats,
        "created_at": moment(order.created_at),
        "paid_at": moment(order.paid_at),
        "completed_at": moment(order.completed_at),
        "refunded_at": moment(order.refunded_at),
        "refund_reason": order.refund_reason or None,
        "sms_status": order.sms_status or None,
        "sms_count": order.sms_count,
        "rental_weeks": order.rental_weeks,
        "rental_ends_at": moment(order.rental_ends_at),
        "admin_url": settings.PUBLIC_BASE_URL + reverse("admin:orders_order_change", args=[order.pk]),
    }


def record_test_event(endpoint, user, now=None):
    """A "webhook.test" event to this one endpoint (active or not: the operator asked for it), signed and
    logged like the others. Its data names no order. Returns the Delivery."""
    now = now or timezone.now()
    with transaction.atomic():
        event = Event(type=EventType.TEST, created_at=now)
        body = {
            "id": str(event.public_id),
            "type": event.type,
            "created": now.isoformat(),
            "data": {"message": "A test event sent from the shop's admin.", "sent_by": user},
        }
        event.body = json.dumps(body, separators=(",", ":"))
        event.save()
        test = Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=now)
        enqueue_deliveries([test])
    return test


def enqueue_deliveries(deliveries):
    """One delivery task per delivery once the transaction commits. robust: with the broker down the rows are
    saved and due, and the beat sweep (``webhooks.tasks.deliver_due``) sends them."""
    ids = [delivery.pk for delivery in deliveries]

    def send_tasks():
        for pk in ids:
            current_app.send_task(DELIVER_TASK, args=[pk])

    if ids:
        transaction.on_commit(send_tasks, robust=True)
