"""Orders paid from the shop's prepaid balance at sms4sats: when the operator may place one (the refusal rules,
beside the lifecycle that places it). The page is backoffice/admin_views.py's ``balance_order_view``."""

from datetime import timedelta

from django.utils import timezone

from shopsettings import runtime

from .models import TERMINAL_STATUSES, Order
from .sms4sats import Sms4satsError

# A runaway (a double click held down, a script with a stolen session) cannot spend the whole balance at once.
BALANCE_ORDERS_PER_HOUR = 20


def reason_without_key(reason):
    """An sms4sats error's reason for the operator's pages, the API key never shown in it."""
    text = str(reason or "no answer")
    key = runtime.get("SMS4SATS_API_KEY")
    return text.replace(key, "…") if key else text


def replacement_under_way(original):
    """Why ``original`` cannot be replaced now (its replacement is under way), or None."""
    pending = original.replacements.exclude(status__in=TERMINAL_STATUSES).first() if original else None
    if pending is None:
        return None
    return f"A replacement of this order is already under way ({pending.public_id}). Nothing was ordered."


def balance_order_refusal(price, original, client):
    """Why an order paid from the balance must not be placed now (in the operator's words), or None."""
    since = timezone.now() - timedelta(hours=1)
    if Order.objects.filter(paid_from_balance=True, created_at__gte=since).count() >= BALANCE_ORDERS_PER_HOUR:
        return f"At most {BALANCE_ORDERS_PER_HOUR} orders an hour are paid from the balance. Nothing was ordered."
    under_way = replacement_under_way(original)
    if under_way:
        return under_way
    try:
        balance = client.balance()
    except Sms4satsError as exc:
        return (
            f"The balance could not be read ({reason_without_key(exc.reason)}). Nothing was ordered; "
            "try again in a moment."
        )
    if balance < price:
        return (
            f"The prepaid balance ({balance:,} sats) does not cover the price ({price:,} sats). "
            "Fund the account first. Nothing was ordered."
        )
    return None
