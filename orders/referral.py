"""Does the operator's referral address (SMS4SATS_REF) resolve? A Lightning Address is checked as LUD-16 says:
``name@domain`` → ``GET https://domain/.well-known/lnurlp/name``, whose answer must be an LNURL-pay request
(``tag: "payRequest"``, a ``callback``, ``minSendable`` ≤ ``maxSendable``). A typo there silently loses the
operator's only income, so ``manage.py sms4sats_check``, a periodic task (which alerts) and the dashboard
(which shows the task's last result: never a call on a page's request) all use ``resolve`` below.

Plain HTTP is used only for a host on this machine (localhost, 127.0.0.1, ::1: a local LNURL server) or with
REFERRAL_ALLOW_HTTP on (development and tests; refused in production).
"""

import re
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

from shopsettings import runtime
from sms4sats_site import outbound

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# LUD-16: the name part is a-z0-9-_.+ ; the domain is a host name, with a port for a local server.
NAME_RE = re.compile(r"[a-z0-9\-_.+]+")
DOMAIN_RE = re.compile(r"(\[::1\]|[a-z0-9\-.]+)(:[0-9]{1,5})?")
LAST_RESULT_KEY = "referral:last-check"
MAX_BODY_BYTES = 100_000  # a pay request is a few hundred bytes
MAX_REDIRECTS = 3  # each hop checked like the first (outbound.request)


@dataclass
class Resolution:
    address: str
    ok: bool
    detail: str  # what was found, or why it does not resolve, in words
    url: str = ""
    checked_at: float = 0.0


def lnurlp_url(address):
    """The LUD-16 URL of ``name@domain``, or ValueError saying what is wrong with the address."""
    name, at, domain = (address or "").strip().lower().rpartition("@")
    if not at or not NAME_RE.fullmatch(name) or not DOMAIN_RE.fullmatch(domain):
        raise ValueError(f"{address!r} is not a Lightning Address (name@domain)")
    host = DOMAIN_RE.fullmatch(domain).group(1)
    scheme = "http" if host in LOCAL_HOSTS or settings.REFERRAL_ALLOW_HTTP else "https"
    return f"{scheme}://{domain}/.well-known/lnurlp/{name}"


def resolve(address, timeout=None):
    """Ask the address's domain for its pay request; a Resolution, never an exception. The whole check is over
    within REFERRAL_TIMEOUT; the domain is the operator's text, so it may not lead to an internal address
    (a redirect included) unless allowed (OUTBOUND_ALLOWED_NETWORKS)."""
    try:
        url = lnurlp_url(address)
    except ValueError as exc:
        return Resolution(address, False, str(exc), checked_at=time.time())
    try:
        answer = outbound.get(
            url,
            timeout=timeout or settings.REFERRAL_TIMEOUT,
            max_bytes=MAX_BODY_BYTES,
            user_target=True,
            redirects=MAX_REDIRECTS,
            headers={"Accept": "application/json"},
        )
        detail = pay_request_problem(answer)
    except outbound.OutboundError as exc:
        detail = f"no answer from {url} ({exc.reason})"
    ok = detail is None
    if ok:
        detail = describe(answer.json())
    return Resolution(address, ok, detail, url=url, checked_at=time.time())


def pay_request_problem(answer):
    """Why this answer is not a valid LNURL-pay request, or None when it is one."""
    if answer.status_code != 200:
        return f"{answer.url} answered HTTP {answer.status_code}"
    try:
        body = answer.json()
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    if str(body.get("status", "")).upper() == "ERROR":  # LUD-06's error answer
        return f"the wallet answered an error: {str(body.get('reason', ''))[:200]}"
    if body.get("tag") != "payRequest":
        return f"not a pay request (tag {str(body.get('tag'))[:40]!r}, expected 'payRequest')"
    callback = body.get("callback")
    if not isinstance(callback, str) or not callback.startswith(("https://", "http://")):
        return "the pay request has no callback URL"
    low, high = body.get("minSendable"), body.get("maxSendable")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not 0 < low <= high:
        return "the pay request's minSendable/maxSendable are not amounts (1 ≤ min ≤ max millisats)"
    return None


def describe(pay_request):
    low, high = pay_request["minSendable"] // 1000, pay_request["maxSendable"] // 1000
    return f"a pay request for {low:,} to {high:,} sats"


def check_and_store(address=None):
    """Resolve the configured address and keep the result for the dashboard; None when none is set."""
    address = address or runtime.get("SMS4SATS_REF")
    if not address:
        cache.delete(LAST_RESULT_KEY)
        return None
    result = resolve(address)
    cache.set(LAST_RESULT_KEY, asdict(result), timeout=None)
    return result


def last_result():
    """The periodic check's last Resolution for the configured address, or None (not set or not checked yet)."""
    try:
        stored = cache.get(LAST_RESULT_KEY)
    except Exception:  # Redis away: the dashboard says "not checked"
        return None
    if not stored or stored.get("address") != runtime.get("SMS4SATS_REF"):
        return None
    return Resolution(**stored)
