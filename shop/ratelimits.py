"""The order limits that protect the shop from flooding, kept in Redis only for their window (the address they
count by is sms4sats_site/client_address.py's; the admin login throttle is backoffice/login_throttle.py).

- Orders: placed orders are counted per client address and per browser session (``ORDER_RATE_PER_IP``,
  ``ORDER_RATE_PER_SESSION``): ``order_limit_reached`` before placing one, ``count_order`` as it is placed.
  An invalid form never reaches them, and a refused order does not count. Redis unreachable:
  ``LimitsUnavailable`` (the views answer "orders are paused").
"""

from django.conf import settings
from django_ratelimit.core import get_usage

from sms4sats_site.shared_redis import CACHE_ERRORS

# Orders ------------------------------------------------------------------------------------------------

ORDER_GROUP_IP = "orders:create:ip"
ORDER_GROUP_SESSION = "orders:create:session"


class LimitsUnavailable(Exception):
    """Redis, which keeps the counters, did not answer."""


def _session_key(group, request):
    return request.session.session_key


def _order_limits(request):
    limits = [(ORDER_GROUP_IP, "ip", settings.ORDER_RATE_PER_IP)]
    if request.session.session_key:  # a browser's first order has no session yet: its address counts
        limits.append((ORDER_GROUP_SESSION, _session_key, settings.ORDER_RATE_PER_SESSION))
    return limits


def _over(request, increment):
    try:
        usages = [
            get_usage(request, group=group, key=key, rate=rate, increment=increment)
            for group, key, rate in _order_limits(request)
        ]
    except CACHE_ERRORS as exc:
        raise LimitsUnavailable(str(exc)) from exc
    usages = [usage for usage in usages if usage is not None]  # None: rate limiting is switched off
    # django-ratelimit reports a cache that answered nothing as limit 0 (closed): that is Redis away too.
    if any(usage["limit"] == 0 for usage in usages):
        raise LimitsUnavailable("the rate-limit cache gave no count")
    if increment:  # the count includes this order
        return any(usage["count"] > usage["limit"] for usage in usages)
    return any(usage["count"] >= usage["limit"] for usage in usages)  # a peek: the orders already placed


def order_limit_reached(request):
    """True when the orders already placed from this address or session fill a limit (counts nothing)."""
    return _over(request, increment=False)


def count_order(request):
    """Count an order about to be placed; False when it goes over a limit after all (two requests raced past
    ``order_limit_reached``: counting is atomic, so the later one is refused)."""
    return not _over(request, increment=True)
