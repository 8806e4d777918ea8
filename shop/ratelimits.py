"""Rate limits that protect the shop from flooding and password guessing, kept in Redis only for their window.

- ``client_ip``: the address a rate limit counts (django-ratelimit's ``RATELIMIT_IP_META_KEY``): the
  connection's address, unless that is one of the operator's ``TRUSTED_PROXIES``; then the client is the
  last ``X-Forwarded-For`` entry that is not itself a trusted proxy (the one the proxy appended). Nobody
  else can choose a bucket with the header, and by default nobody is trusted.
- ``KeyedSha256``: the hash of the rate-limit cache keys (``RATELIMIT_HASH_ALGORITHM``). An HMAC with the
  secret key, so that the keys in Redis cannot be turned back into IP addresses by trying all 2^32 of them.
- Orders: placed orders are counted per client address and per browser session (``ORDER_RATE_PER_IP``,
  ``ORDER_RATE_PER_SESSION``): ``order_limit_reached`` before placing one, ``count_order`` as it is placed.
  An invalid form never reaches them, and a refused order does not count. Redis unreachable:
  ``LimitsUnavailable`` (the views answer "orders are paused").
- The admin login throttle: after ``ADMIN_LOGIN_FAILURES_PER_USER`` failed logins for one address and
  user name, or ``ADMIN_LOGIN_FAILURES_PER_IP`` for one address whatever the name, within
  ``ADMIN_LOGIN_WINDOW_SECONDS``, the login form refuses to check passwords (HTTP 429, a message saying
  when to try again). Successful logins are not counted. Redis unreachable: fail open (see
  ``login_blocked_for``).
"""

import functools
import hashlib
import hmac
import ipaddress
import logging

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django_ratelimit.core import get_usage
from python_ipware.modern.parsers import parse_ip, split_proxy_chain
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# What a cache that cannot be reached raises through django-ratelimit (redis-py wraps socket errors).
CACHE_ERRORS = (RedisError, OSError)


# The client's address ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _networks(trusted):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def in_networks(address, entries):
    """Whether ``address`` (an ip_address or its text) is in one of ``entries`` (addresses or networks)."""
    address = ipaddress.ip_address(address)
    return any(address in net for net in _networks(tuple(entries)) if net.version == address.version)


def _is_trusted_proxy(address):
    return in_networks(address, settings.TRUSTED_PROXIES)


def client_ip(request):
    """The client's address. Parsing (ports, brackets, IPv4-mapped IPv6, junk entries) is python-ipware's,
    the parser django-ipware is built on; its own choice of the client is not used, because it never looks
    at who connected, so a client reaching the shop directly could name any address in the header."""
    remote = parse_ip(request.META.get("REMOTE_ADDR"))
    if remote is None:
        return "0.0.0.0"
    if not _is_trusted_proxy(remote):
        return str(remote)
    # Walk back from the proxy: each trusted proxy appended the address it saw; the first hop that is not a
    # trusted proxy is the client. A proxy that sent no header leaves its own address (one shared bucket).
    chain = split_proxy_chain(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    client = remote
    for hop in reversed(chain):
        client = hop
        if not _is_trusted_proxy(hop):
            break
    return str(client)


class KeyedSha256:
    """hashlib-like: ``KeyedSha256(data).hexdigest()`` is HMAC-SHA256(SECRET_KEY, data)."""

    def __init__(self, data=b""):
        self._mac = hmac.new(settings.SECRET_KEY.encode(), data, hashlib.sha256)

    def hexdigest(self):
        return self._mac.hexdigest()


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


# The admin login throttle --------------------------------------------------------------------------------

LOGIN_GROUP_USER = "admin:login:ip+user"
LOGIN_GROUP_IP = "admin:login:ip"


def _login_rates():
    window = int(settings.ADMIN_LOGIN_WINDOW_SECONDS)
    return f"{settings.ADMIN_LOGIN_FAILURES_PER_USER}/{window}s", f"{settings.ADMIN_LOGIN_FAILURES_PER_IP}/{window}s"


def _username_key(username):
    name = (username or "").strip().lower()[:150]
    return lambda group, request: f"{client_ip(request)}|{name}"


def _login_usages(request, username, increment):
    rate_user, rate_ip = _login_rates()
    return [
        get_usage(request, group=LOGIN_GROUP_USER, key=_username_key(username), rate=rate_user, increment=increment),
        get_usage(request, group=LOGIN_GROUP_IP, key="ip", rate=rate_ip, increment=increment),
    ]


def login_blocked_for(request, username):
    """Seconds until another attempt is allowed for this address and user name, or 0 when allowed now.

    Redis unreachable: fail open (passwords are checked, nothing is counted), with a warning in the log.
    The operator most needs the admin during an outage, and a closed throttle would lock out every
    operator for as long as it lasts; an attacker cannot take Redis down from outside, and Django's
    password hashing still makes each guess cost a worker hundreds of milliseconds.
    """
    try:
        usages = _login_usages(request, username, increment=False)
    except CACHE_ERRORS as exc:
        log.warning("admin login throttle off: Redis did not answer (%s)", exc)
        return 0
    # A cache that answered nothing gives limit 0: Redis away again, so open as above.
    waits = [max(1, u["time_left"]) for u in usages if u and u["limit"] and u["count"] >= u["limit"]]
    return max(waits, default=0)


def record_login_failure(request, username):
    try:
        _login_usages(request, username, increment=True)
    except CACHE_ERRORS as exc:
        log.warning("admin login failure not counted: Redis did not answer (%s)", exc)


def _minutes(seconds):
    minutes = max(1, -(-int(seconds) // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, which stops checking passwords after too many failures."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = login_blocked_for(self.request, username)
        if wait:
            self.request.login_throttled = wait
            raise ValidationError(
                "Too many failed login attempts. For your security, try again in %(wait)s.",
                code="throttled",
                params={"wait": _minutes(wait)},
            )
        try:
            return super().clean()
        except ValidationError:
            record_login_failure(self.request, username)
            raise
