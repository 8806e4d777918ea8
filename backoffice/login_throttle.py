"""The admin login throttle, against password guessing, kept in Redis only for its window.

After ``ADMIN_LOGIN_FAILURES_PER_USER`` failed logins for one address and user name, or
``ADMIN_LOGIN_FAILURES_PER_IP`` for one address whatever the name, within ``ADMIN_LOGIN_WINDOW_SECONDS``, the
login form refuses to check passwords (HTTP 429, a message saying when to try again). Successful logins are not
counted. Redis unreachable: fail open (see ``login_blocked_for``). The address is
sms4sats_site/client_address.py's ``client_ip``.
"""

import logging

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django_ratelimit.core import get_usage

from sms4sats_site.client_address import client_ip
from sms4sats_site.shared_redis import CACHE_ERRORS

log = logging.getLogger(__name__)


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
