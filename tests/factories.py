"""Orders for tests, written straight to the database (no engine, no upstream): one factory for every module."""

from datetime import timedelta

from django.utils import timezone

from orders.models import NUMBER_KINDS, PAID_STATUSES, Kind, Order, OrderEvent, Status

# A stand-in invoice: pages show it and encode it in a QR code; nothing decodes it.
BOLT11 = "lnbcrt15u1pn" + "x" * 200
# Statuses that come before sms4sats has answered with an invoice, or instead of one.
NO_INVOICE = (Status.NEW, Status.CREATING, Status.FAILED)


def make_order(
    status=Status.UNPAID, kind=Kind.RECEIVE, *, created_at=None, paid_after=None, code_after=None, events=(), **fields
):
    """An order as the engine leaves it in ``status``; ``fields`` override any column.

    Receive and rental orders are for Telegram in the USA, send orders to a UK phone, 1,500 sats. Once sms4sats
    has answered it has an invoice (``BOLT11``, expiring in 15 minutes); once paid, ``paid_at`` is 30 s ago.
    ``paid_after`` and ``code_after`` date the payment and the code instead, in seconds after the creation and
    after the payment (the admin's statistics); creation then defaults to an hour ago, so both are in the past.
    ``events``: OrderEvent fields, one dict per event of the timeline.
    """
    now = timezone.now()
    if created_at is None:
        created_at = now - timedelta(hours=1) if paid_after is not None else now
    values = {"kind": kind, "status": status, "quoted_sats": 1500, "created_at": created_at}
    if kind in NUMBER_KINDS:
        values.update(country_code=187, country_name="USA", service_code="tg", service_name="Telegram")
    elif kind == Kind.SEND:
        values.update(phone="+447911123456", message="Hello")
    if status not in NO_INVOICE:
        values.update(bolt11=BOLT11, invoice_expires_at=now + timedelta(minutes=15))
    if status in PAID_STATUSES:
        values["paid_at"] = now - timedelta(seconds=30)
    if paid_after is not None:
        values["paid_at"] = created_at + timedelta(seconds=paid_after)
        if code_after is not None:
            values["completed_at"] = values["paid_at"] + timedelta(seconds=code_after)
    values.update(fields)
    if status not in NO_INVOICE:
        values.setdefault("invoice_sats", values["quoted_sats"])
    order = Order.objects.create(**values)
    for event in events:
        OrderEvent.objects.create(order=order, **event)
    return order


def make_order_in_germany(status=Status.UNPAID, kind=Kind.RECEIVE, **fields):
    """``make_order`` for Telegram in Germany (the buyer pages' tests: the catalog's fake sells it)."""
    if kind in NUMBER_KINDS:
        fields = {"country_code": 43, "country_name": "Germany", **fields}
    return make_order(status, kind, **fields)


def upstream_status(paid=False, code=None, number=None, error=None, sms_status=None):
    """An answer of sms4sats' /orderstatus, as the client returns it."""
    from orders.sms4sats import OrderStatus

    raw = {"status": "OK", "paid": paid}
    return OrderStatus(
        paid=paid,
        code=code,
        number=number,
        activation_id=None,
        sms_status=sms_status,
        country="India",
        service="Telegram",
        timestamp=None,
        error=error,
        raw=raw,
    )
