"""Personal data retention: what the shop forgets, and when (see docs/operating.md, "Privacy")."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import TERMINAL_STATUSES, Order, OrderEvent

PERSONAL_FIELDS = {"number": "", "code": "", "phone": "", "message": "", "session_key": ""}


def old_orders(older_than_days, now=None):
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    return Order.objects.filter(created_at__lt=cutoff, status__in=TERMINAL_STATUSES)


def purge(older_than_days, now=None):
    """Blank the personal fields of final orders created more than ``older_than_days`` ago.
    Returns (orders changed, events whose upstream snapshot was removed)."""
    orders = old_orders(older_than_days, now)
    with transaction.atomic():
        events = OrderEvent.objects.filter(order__in=orders, upstream__isnull=False).update(upstream=None)
        changed = orders.exclude(**PERSONAL_FIELDS).update(**PERSONAL_FIELDS)
    return changed, events
