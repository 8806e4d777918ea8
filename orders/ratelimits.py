"""Rate limits that protect the shop from guessing and flooding, kept in Redis only for their window.

- ``client_ip``: the address a rate limit counts (django-ratelimit's ``RATELIMIT_IP_META_KEY``). Behind a
  reverse proxy on a private or loopback address, the proxy's own address would put every buyer in one
  bucket: the last ``X-Forwarded-For`` entry (the one the proxy appended) is used instead. A client on a
  public address cannot choose its bucket that way: its header is ignored.
- ``KeyedSha256``: the hash of the rate-limit cache keys (``RATELIMIT_HASH_ALGORITHM``). An HMAC with the
  secret key, so that the keys in Redis cannot be turned back into IP addresses by trying all 2^32 of them.
- The admin login throttle: after ``ADMIN_LOGIN_FAILURES_PER_USER`` failed logins for one address and
  user name, or ``ADMIN_LOGIN_FAILURES_PER_IP`` for one address whatever the name, within
  ``ADMIN_LOGIN_WINDOW_SECONDS``, the login form refuses to check passwords (HTTP 429, a message saying
  when to try again). Successful logins are not counted.
"""

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django_ratelimit.core import get_usage

# Where a reverse proxy of our own can connect from: loopback, RFC 1918 and IPv6 unique local addresses
# (Docker's port mapping shows the bridge gateway, e.g. 172.17.0.1).
PROXY_NETWORKS = [
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
]


def _is_proxy(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in PROXY_NETWORKS if net.version == ip.version)


def client_ip(request):
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        behind_proxy = _is_proxy(remote)
        if behind_proxy:
            candidate = forwarded.split(",")[-1].strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote


class KeyedSha256:
    """hashlib-like: ``KeyedSha256(data).hexdigest()`` is HMAC-SHA256(SECRET_KEY, data)."""

    def __init__(self, data=b""):
        self._mac = hmac.new(settings.SECRET_KEY.encode(), data, hashlib.sha256)

    def hexdigest(self):
        return self._mac.hexdigest()


# The admin login throttle --------------------------------------------------------------------------------

LOGIN_GROUP_USER = "admin:login:ip+user"
LOGIN_GROUP_IP = "admin:login:ip"


def _login_rates():
    window = int(getattr(settings, "ADMIN_LOGIN_WINDOW_SECONDS", 15 * 60))
    per_user = int(getattr(settings, "ADMIN_LOGIN_FAILURES_PER_USER", 5))
    per_ip = int(getattr(settings, "ADMIN_LOGIN_FAILURES_PER_IP", 20))
    return f"{per_user}/{window}s", f"{per_ip}/{window}s"


def _username_key(username):
    name = (username or "").strip().lower()[:150]
    return lambda group, request: f"{client_ip(request)}|{name}"


def _usages(request, username, increment):
    rate_user, rate_ip = _login_rates()
    return [
        get_usage(request, group=LOGIN_GROUP_USER, key=_username_key(username), rate=rate_user, increment=increment),
        get_usage(request, group=LOGIN_GROUP_IP, key="ip", rate=rate_ip, increment=increment),
    ]


def login_blocked_for(request, username):
    """Seconds until another attempt is allowed for this address and user name, or 0 when allowed now."""
    usages = _usages(request, username, increment=False)
    # A cache that cannot answer gives count 0, limit 0: closed, which is right for a login form.
    waits = [max(1, u["time_left"]) for u in usages if u and u["count"] >= u["limit"]]
    return max(waits, default=0)


def record_login_failure(request, username):
    _usages(request, username, increment=True)


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


def admin_login(request, extra_context=None):
    """``admin.site.login`` (its ``login_form`` is the throttled form, see urls.py); 429 while throttled."""
    response = admin.site.login(request, extra_context=extra_context)
    wait = getattr(request, "login_throttled", 0)
    if wait:
        response.status_code = 429
        response["Retry-After"] = str(int(wait))
    return response
