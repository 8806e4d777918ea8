"""The sandbox wallet: "pays" (holds) an invoice the sandbox issued. Usable from views and tests."""

import logging

from django.db import transaction

from . import clock
from .invoices import payment_hash_of
from .models import SandboxOrder

log = logging.getLogger(__name__)


def pay_invoice(payreq):
    """Hold the payment of a sandbox invoice now. Returns (ok, reason): reason says what happened."""
    if not isinstance(payreq, str) or not payreq.strip():
        return False, "No invoice given."
    try:
        payment_hash = payment_hash_of(payreq)
    except ValueError:
        return False, "Not a valid BOLT11 invoice."
    order = SandboxOrder.objects.filter(order_id=payment_hash).first()
    if order is None:
        return False, "Unknown invoice: it was not issued by this sandbox."
    now = clock.now()
    if order.paid_at is not None:
        return False, "This invoice is already paid."
    if now >= order.expires_at:
        return False, "This invoice has expired and can no longer be paid."
    # Compare-and-set, so two clicks on Pay cannot both succeed.
    with transaction.atomic():
        updated = SandboxOrder.objects.filter(pk=order.pk, paid_at__isnull=True).update(paid_at=now)
        if not updated:
            return False, "This invoice is already paid."
        if order.kind == SandboxOrder.SEND and order.webhook_url:
            from .tasks import schedule_webhooks

            transaction.on_commit(lambda: schedule_webhooks(order.order_id))
    if order.kind == SandboxOrder.FUND:
        return True, f"Paid {order.amount} sats: the prepaid balance is credited."
    return True, f"Paid {order.amount} sats (held until the order completes; returned if it fails)."
