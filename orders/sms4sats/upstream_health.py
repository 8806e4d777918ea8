"""Is sms4sats answering? One view shared by every process, kept in Redis.

Every call the client makes ends here (``record``): an answer counts as "up", a 5xx, a timeout or a refused
connection as a failure. After UPSTREAM_DOWN_AFTER_FAILURES failures in a row sms4sats is "down": the poll
cycle then sends one probe at a time instead of every order backing off on its own, buyer pages show a calm
banner, and /healthz and the dashboard say so. The first answer after that marks it "up" again and leaves a
"recovered" flag that the next poll cycle takes (``take_recovery``) to make every live order due at once
(docs/design.md, "Upstream health and scheduling"). Each of the two transitions enqueues the alerts' check
(``announce``), once: only the process that made the transition does.

Redis trouble never breaks a call: health is then simply unknown ("up").
"""

import logging
import time

from celery import current_app
from django.conf import settings

from shopsettings import runtime
from sms4sats_site.shared_redis import shared_key, shared_redis

log = logging.getLogger(__name__)

# A process that just confirmed "up, no failures" skips the Redis round trip for answers within this long.
CLEAN_CHECK_SECONDS = 1.0
_last_clean = {"at": 0.0}


def down_key():
    return shared_key("upstream:down")


def _keys():
    return shared_key("upstream:failures"), down_key(), shared_key("upstream:recovered")


def record(ok, reason=""):
    """Note the outcome of one call to sms4sats."""
    try:
        if ok:
            _record_answer()
        else:
            _record_failure(reason)
    except Exception as exc:  # Redis away: the call's own result still stands
        log.debug("Upstream health not recorded (%s)", type(exc).__name__)


def _record_answer():
    now = time.monotonic()
    if now - _last_clean["at"] < CLEAN_CHECK_SECONDS:
        return
    failures_key, down_key, recovered_key = _keys()
    pipe = shared_redis().pipeline()
    pipe.get(down_key)
    pipe.delete(failures_key, down_key)
    was_down = pipe.execute()[0]
    if was_down:
        now_epoch = time.time()
        shared_redis().mset({recovered_key: now_epoch, answering_since_key(): now_epoch})
        log.warning("sms4sats answers again (it was not answering since %s)", _since_text(was_down))
        announce()
    _last_clean["at"] = now


def answering_since_key():
    return shared_key("upstream:answering-since")


def answering_since():
    """When sms4sats last came back after being down (epoch seconds), or 0.0: a failure noted before that moment
    (the catalog's rest after a failed read) is over."""
    try:
        return float(shared_redis().get(answering_since_key()) or 0.0)
    except Exception:
        return 0.0


def checked_key():
    return shared_key("upstream:checked")


def _record_failure(reason):
    _last_clean["at"] = 0.0
    failures_key, down_key, _ = _keys()
    redis = shared_redis()
    pipe = redis.pipeline()
    pipe.incr(failures_key)
    pipe.set(checked_key(), time.time())  # the buyer's paused form says when sms4sats was last tried
    failures = pipe.execute()[0]
    if failures >= settings.UPSTREAM_DOWN_AFTER_FAILURES:
        if redis.set(down_key, f"{time.time()}|{reason[:200]}", nx=True):
            log.warning("sms4sats is not answering (%s failed calls in a row; last: %s)", failures, reason)
            announce()


def announce():
    """Have a worker send the "down" or "back up" alert (alerts/checks.py); only when alerts are configured, so
    that the client's path publishes nothing otherwise. Not in a transaction: the state is in Redis only."""
    if not runtime.get("ALERT_URLS"):
        return
    try:
        current_app.send_task("alerts.tasks.upstream_changed")
    except Exception as exc:  # the broker away: the periodic check sends it within a minute
        log.warning("Upstream alert not enqueued (%s)", type(exc).__name__)


def _since_text(raw):
    since = float(raw.decode().split("|", 1)[0])
    return time.strftime("%H:%M:%S UTC", time.gmtime(since))


def state():
    """{"up": bool, "since": epoch or None, "failures": int, "last_error": str, "checked": epoch of the last
    failed call or None}."""
    failures_key, down_key, _ = _keys()
    try:
        failures, down, checked = shared_redis().mget(failures_key, down_key, checked_key())
    except Exception:
        return {"up": True, "since": None, "failures": 0, "last_error": "", "known": False, "checked": None}
    since, last_error = None, ""
    if down:
        since_text, _, last_error = down.decode().partition("|")
        since = float(since_text)
    return {
        "up": down is None,
        "since": since,
        "failures": int(failures or 0),
        "last_error": last_error,
        "known": True,
        "checked": float(checked) if checked else since,
    }


def is_down():
    return not state()["up"]


def take_recovery():
    """True once after sms4sats came back (for the poll cycle that makes every waiting order due)."""
    try:
        return bool(shared_redis().getdel(_keys()[2]))
    except Exception:
        return False
