"""Helpers shared by the admin tests (no tests here): orders with known fields, built without the engine."""

from datetime import timedelta

from django.utils import timezone

from orders.models import Kind, Order, OrderEvent, Status

_counter = {"n": 0}


def make_order(
    *,
    kind=Kind.RECEIVE,
    status=Status.COMPLETED,
    created_at=None,
    paid_after=None,
    code_after=None,
    events=(),
    **fields,
):
    """An order as the engine would leave it. ``paid_after``/``code_after``: seconds after creation/payment."""
    _counter["n"] += 1
    created_at = created_at or timezone.now() - timedelta(hours=1)
    values = {
        "kind": kind,
        "status": status,
        "created_at": created_at,
        "quoted_sats": 3000,
        "country_code": 187,
        "country_name": "USA",
        "service_code": "tg" if kind in (Kind.RECEIVE, Kind.RENTAL) else "",
        "service_name": "Telegram" if kind in (Kind.RECEIVE, Kind.RENTAL) else "",
    }
    if kind == Kind.SEND:
        values.update(country_code=None, country_name="", phone="+4915112345678", message="hello")
    if paid_after is not None:
        values["paid_at"] = created_at + timedelta(seconds=paid_after)
        if code_after is not None:
            values["completed_at"] = values["paid_at"] + timedelta(seconds=code_after)
    values.update(fields)
    order = Order.objects.create(**values)
    for event in events:
        OrderEvent.objects.create(order=order, **event)
    return order
