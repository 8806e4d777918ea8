"""Per-event notifications (notification rules, alerts/models.py): what an order event says to the operator.

The order events are the webhooks' (webhooks/events.py ``record_order_change`` calls ``order_events`` in the
transaction of the change, so a notification exists exactly when its change was committed). Like a webhook
body, the text names no phone number, code, SMS text or invoice: chat rooms and mailboxes keep it longer than
the shop does.
"""

from django.conf import settings
from django.urls import reverse

from .delivery import notify
from .models import NotificationRule

SAYS = {
    "order.paid": "paid (held)",
    "order.completed": "completed",
    "order.refunded": "refunded",
    "order.expired": "expired unpaid",
    "order.failed": "could not be created",
    "order.sms_sent": "SMS sent",
    "order.sms_delivered": "SMS delivered",
    "order.rental_sms_received": "rented number received an SMS",
}


def order_message(event_type, order):
    sats = order.invoice_sats or order.quoted_sats or 0
    title = f"Order {SAYS.get(event_type, event_type)}: {order.what}, {sats:,} sats"
    lines = [f"Event: {event_type}", f"Order: {order.public_id} ({order.get_kind_display()}, {order.status})"]
    if order.refund_reason:
        lines.append(f"Refund reason: {order.refund_reason}")
    if order.pk:
        lines.append(settings.PUBLIC_BASE_URL + reverse("admin:orders_order_change", args=[order.pk]))
    return title, "\n".join(lines)


def order_events(types, order):
    """Notify the active rules that chose any of ``types`` (this order's change). One query when none did."""
    rules = [rule for rule in NotificationRule.objects.filter(active=True) if set(rule.events) & set(types)]
    for event_type in types:
        chosen = [rule for rule in rules if event_type in rule.events]
        if chosen:
            notify(event_type, *order_message(event_type, order), rules=chosen)


def on_order_changed(sender, order, to_status, fields, **kwargs):
    """The engine's ``order_changed`` (connected in AlertsConfig.ready): the events of the change, as the webhooks
    name them, to the rules that chose them."""
    import copy

    from webhooks.events import event_types

    types = event_types(order, to_status, fields)
    if not types:
        return
    after = copy.copy(order)
    after.status = to_status
    for name, value in fields.items():
        setattr(after, name, value)
    order_events(types, after)
