"""The conditions the operator is alerted about, and the checks that watch them (run by alerts/tasks.py).

**One alert when a condition starts, one when it clears, none in between.** Each condition's state is one
Redis key: the check that finds it true claims the key with ``SET NX`` (only one process can, so two workers
checking at once send one alert), and the check that finds it false deletes the key (``GETDEL``: again only
one sees it there). A check repeated during an outage finds the key taken and sends nothing. Redis restarted
empty in the middle of a condition sends its start once more; that is all.

**Hysteresis and a cap** (``update``): a change alerts only once it has lasted (ALERT_HOLD_SECONDS to start,
ALERT_CLEAR_SECONDS to clear), and at most ALERT_MAX_PER_HOUR alerts go out an hour; flaps too short to alert and
alerts over the cap are counted, and told in one summary once their hour is over (``send_summary``).

**"Workers stale"**: a task cannot notice that the worker running it is dead, and alerts are delivered by
workers. So the two worker processes watch each other: the creator (queue ``<CELERY_QUEUE>-create``) runs
``check_main_worker`` on the main worker's heartbeat (the one /healthz reads) and delivers that alert itself;
the main worker runs ``check_creator_worker`` on the heartbeat the creator writes (``creator_heartbeat``).
Beat schedules both. **After a start**, a heartbeat left in Redis by the last run (minutes or hours old) is not a
dead worker: for WORKER_START_GRACE_SECONDS after a worker or beat starts (``record_start``, from Celery's
start signals in sms4sats_site/celery.py) a stale heartbeat alerts nothing and a change pending from before the
stop is dropped. Not covered, and said in docs/operating.md ("Alerts"): both workers dead, or beat dead
(nothing is checked); an outside monitor of /healthz catches those.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from shopsettings import runtime
from sms4sats_site.shared_redis import shared_key, shared_redis

from .delivery import alerts_on, raise_alert
from .models import Event

log = logging.getLogger(__name__)

STARTED_KEY = "alerts:processes-started"
SUMMARY_KEEP_SECONDS = 2 * 24 * 60 * 60

# condition name: (event when it starts, event when it clears)
CONDITIONS = {
    "upstream": (Event.UPSTREAM_DOWN, Event.UPSTREAM_UP),
    "worker": (Event.WORKER_STALE, Event.WORKER_BACK),
    "creator": (Event.CREATOR_STALE, Event.CREATOR_BACK),
    "creation": (Event.CREATION_LAGGING, Event.CREATION_CAUGHT_UP),
    "refunds": (Event.REFUNDS_HIGH, Event.REFUNDS_NORMAL),
    "balance": (Event.BALANCE_LOW, Event.BALANCE_OK),
    "referral": (Event.REFERRAL_BROKEN, Event.REFERRAL_OK),
    "webhooks": (Event.WEBHOOKS_FAILING, Event.WEBHOOKS_OK),
}


def condition_key(name):
    return shared_key(f"alerts:condition:{name}")


def _pending_key(name):
    return shared_key(f"alerts:pending:{name}")


def clock():
    """The checks' clock (seconds): one function, so that a test can move time instead of sleeping."""
    return time.time()


def update(name, active, title, body="", queue=None):
    """Record whether a condition holds now; raise its start or clear alert only on a change that lasted.

    Hysteresis: a change (the condition starts, or clears) is pending from the first check that sees it, and is
    alerted by the first check that still sees it ALERT_HOLD_SECONDS (start) or ALERT_CLEAR_SECONDS (clear)
    later; a change that reverts before then is a flap: no alert, only counted for the hourly summary.

    Returns the event raised, or None. ``title``/``body`` describe the current state (start or clear)."""
    redis, key, pending = shared_redis(), condition_key(name), _pending_key(name)
    alerted = redis.get(key)
    if bool(active) == bool(alerted):
        if redis.delete(pending):  # it had changed, and changed back before it lasted
            _count(f"flap:{name}")
        return None
    at = clock()
    redis.set(pending, at, nx=True, ex=SUMMARY_KEEP_SECONDS)
    since = float(redis.get(pending) or at)
    if at - since < (settings.ALERT_HOLD_SECONDS if active else settings.ALERT_CLEAR_SECONDS):
        return None
    started, cleared = CONDITIONS[name]
    if active:
        if not redis.set(key, since, nx=True):
            return None
        redis.delete(pending)
        try:
            return _send(started, title, body, queue)
        except Exception:  # not logged (the database away): give the claim back, the next check alerts
            redis.delete(key)
            raise
    alerted_since = redis.getdel(key)
    if not alerted_since:
        return None
    redis.delete(pending)
    try:
        return _send(cleared, title, f"{body}\n(after {_duration(since - float(alerted_since))})".strip(), queue)
    except Exception:
        redis.set(key, alerted_since, nx=True)
        raise


# --- The hourly cap and the summary of what it held back ------------------------------------------------

SUPPRESSED_KEY = "alerts:suppressed"  # field -> count; "since": when the first was counted


def _hour(at):
    return int(at // 3600)


def _count(field):
    """Count an alert held back (its event) or a flap ("flap:<condition>") for the next summary."""
    redis, key = shared_redis(), shared_key(SUPPRESSED_KEY)
    redis.hsetnx(key, "since", clock())
    redis.hincrby(key, field, 1)
    redis.expire(key, SUMMARY_KEEP_SECONDS)


def _send(event, title, body, queue=None):
    """Raise the alert unless ALERT_MAX_PER_HOUR were raised this hour already: then it is counted instead."""
    redis, hour = shared_redis(), _hour(clock())
    sent_key = shared_key(f"alerts:sent:{hour}")
    sent = redis.incr(sent_key)
    redis.expire(sent_key, 2 * 3600)
    if sent > settings.ALERT_MAX_PER_HOUR:
        _count(event)
        return None
    raise_alert(event, title, body, queue=queue)
    return event


def send_summary():
    """Once the hour in which something was held back is over: one alert that tells it (counts by kind), then
    the counts start again. Returns the number of things it told, or None."""
    redis, key = shared_redis(), shared_key(SUPPRESSED_KEY)
    since = redis.hget(key, "since")
    if since is None or _hour(float(since)) >= _hour(clock()):
        return None
    pipe = redis.pipeline()  # MULTI: one process takes the counts
    pipe.hgetall(key)
    pipe.delete(key)
    counts = {k.decode(): int(v) for k, v in pipe.execute()[0].items() if k != b"since"}
    if not counts:
        return None
    raise_alert(Event.SUPPRESSED, "Alerts held back in the last hour", summary_of(counts, float(since)))
    return sum(counts.values())


def summary_of(counts, since):
    labels = dict(Event.choices)
    lines = []
    for field, count in sorted(counts.items()):
        if field.startswith("flap:"):
            name = field.removeprefix("flap:")
            started, _ = CONDITIONS.get(name, (name, None))
            lines.append(f"{labels.get(started, name)}: {count} flap(s) too short to alert")
        else:
            lines.append(f"{labels.get(field, field)}: {count} alert(s) over ALERT_MAX_PER_HOUR")
    started = time.strftime("%H:%M", time.gmtime(since))
    return f"Since {started} UTC:\n" + "\n".join(lines) + "\nThe admin's Alerts page shows the current state."


def _duration(seconds):
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


# --- sms4sats -------------------------------------------------------------------------------------


def check_upstream():
    """The shared health state (orders/sms4sats/upstream_health.py). Its transitions enqueue this check at once; the
    periodic checks call it too, so an alert whose task was lost is still sent (once)."""
    from orders.sms4sats import upstream_health

    state = upstream_health.state()
    if not state["known"]:
        return None
    if state["up"]:
        return update("upstream", False, "sms4sats answers again", "Orders are created and polled again.")
    return update(
        "upstream",
        True,
        "sms4sats is not answering",
        f"{state['failures']} failed calls in a row; last: {state['last_error'] or 'no answer'}. New orders are "
        "paused on the storefront; held payments are safe (charged only when a code arrives).",
    )


# --- Workers --------------------------------------------------------------------------------------


def record_start():
    """A worker or beat has just started: the heartbeats get their grace period from now."""
    shared_redis().set(shared_key(STARTED_KEY), clock())


def starting():
    """True within WORKER_START_GRACE_SECONDS of the last start of a worker or beat."""
    started = shared_redis().get(shared_key(STARTED_KEY))
    return started is not None and clock() - float(started) < settings.WORKER_START_GRACE_SECONDS


def check_heartbeat(name, age, label, queue=None):
    from orders import process_health

    stale = not process_health.is_alive(age)
    if stale and starting():
        # Not yet its turn to beat. A "stale" pending from before the stop would alert at once: dropped.
        shared_redis().delete(_pending_key(name))
        return None
    if stale:
        seen = "never" if age is None else f"{round(age)} s ago"
        return update(
            name,
            True,
            f"The {label} is not running",
            f"Its last heartbeat: {seen} (stale after {settings.HEARTBEAT_MAX_AGE} s). Check the process and its "
            "logs (docker compose logs / the Procfile's output).",
            queue=queue,
        )
    return update(name, False, f"The {label} runs again", f"Its last heartbeat: {round(age)} s ago.", queue=queue)


def check_main_worker():
    """Runs on the creator: the main worker (polling, sweeps) beats through the heartbeat /healthz reads; this
    alert is delivered by the creator, since the main worker may be the one that is dead."""
    from orders import process_health

    age = process_health.heartbeat_age(process_health.WORKER)
    return check_heartbeat("worker", age, "main worker (polling)", queue=settings.CELERY_CREATE_QUEUE)


def check_creator_worker():
    """Runs on the main worker: the creator's own heartbeat."""
    from orders import process_health

    age = process_health.heartbeat_age(process_health.CREATOR)
    return check_heartbeat("creator", age, "creator worker (order creation)")


# --- Orders ---------------------------------------------------------------------------------------


def check_creation_lag():
    """The lag /healthz reports and fails on (CREATION_LAG_MAX_SECONDS)."""
    from orders import process_health

    lag = process_health.creation_lag_seconds()
    limit = settings.CREATION_LAG_MAX_SECONDS
    if process_health.is_lagging(lag):
        return update(
            "creation",
            True,
            "Orders wait to be created at sms4sats",
            f"The oldest has waited {round(lag)} s (the limit is {limit} s): buyers wait for their invoice.",
        )
    return update("creation", False, "Orders are created without delay again", f"Creation lag: {round(lag)} s.")


def refunds_last_hour(now=None):
    from orders.models import Order, Status

    since = (now or timezone.now()) - timedelta(hours=1)
    return Order.objects.storefront().filter(status=Status.REFUNDED, refunded_at__gte=since).count()


def check_refunds(now=None):
    threshold = runtime.get("ALERT_REFUNDS_PER_HOUR")
    if not threshold:
        return None
    count = refunds_last_hour(now)
    if count >= threshold:
        return update(
            "refunds",
            True,
            f"{count} refunds in the last hour",
            f"ALERT_REFUNDS_PER_HOUR is {threshold}. The dashboard's 'Refunds by reason' says why.",
        )
    return update("refunds", False, "Refunds are back under the threshold", f"{count} in the last hour.")


def check_balance():
    """The prepaid balance, as the admin's account page asks for it; nothing changes when sms4sats cannot say."""
    threshold = runtime.get("ALERT_BALANCE_MIN_SATS")
    if not threshold or not runtime.get("SMS4SATS_API_KEY"):
        return None
    from orders.sms4sats import Sms4satsError, get_client

    try:
        balance = get_client().balance()
    except Sms4satsError as exc:
        log.info("Prepaid balance not checked: %s", exc.reason)
        return None
    if balance < threshold:
        return update(
            "balance",
            True,
            f"Prepaid balance low: {balance:,} sats",
            f"Under ALERT_BALANCE_MIN_SATS ({threshold:,} sats). Fund it from the admin's prepaid account page.",
        )
    return update("balance", False, f"Prepaid balance: {balance:,} sats", f"Back over {threshold:,} sats.")


def check_referral():
    """Resolve SMS4SATS_REF (orders/referral.py), keep the result for the dashboard, alert on a change."""
    from orders import referral

    result = referral.check_and_store()
    if result is None:  # no address set: nothing to resolve, nothing to alert about
        return update("referral", False, "No referral address is set any more")
    if result.ok:
        return update("referral", False, f"Your referral address {result.address} resolves again", result.detail)
    return update(
        "referral",
        True,
        f"Your referral address {result.address} does not resolve",
        f"{result.detail}. Orders still carry it, but the 10% referral may be lost: check SMS4SATS_REF.",
    )


# --- Webhooks -------------------------------------------------------------------------------------


def check_webhooks():
    """Deliveries that keep failing or were given up (webhooks/delivery.py ``failing_endpoints``): one alert
    while any endpoint is failing, one when all of them are reached again."""
    from webhooks.delivery import failing_endpoints

    failing = failing_endpoints()
    if failing:
        lines = "\n".join(f"{endpoint}: {error}" for endpoint, error in failing)
        return update(
            "webhooks",
            True,
            f"Webhook deliveries keep failing ({len(failing)} endpoint{'s' if len(failing) != 1 else ''})",
            f"{lines}\nThe admin's webhook deliveries list shows each attempt; redeliver once the receiver is fixed.",
        )
    return update("webhooks", False, "Webhook deliveries succeed again")


# --- The daily summary ----------------------------------------------------------------------------


def daily_summary(now=None):
    """Once a day at ALERT_DAILY_SUMMARY_HOUR (UTC), the last 24 hours' figures (backoffice/stats.py). Beat asks
    every 15 minutes; the first ask in that hour claims the day (SET NX), so it is sent once."""
    now = now or timezone.now()
    if not runtime.get("ALERT_DAILY_SUMMARY") or now.hour != runtime.get("ALERT_DAILY_SUMMARY_HOUR") or not alerts_on():
        return None
    day_key = shared_key(f"alerts:summary:{now.date().isoformat()}")
    if not shared_redis().set(day_key, 1, nx=True, ex=SUMMARY_KEEP_SECONDS):
        return None
    return raise_alert(Event.DAILY_SUMMARY, f"sms4sats shop, {now:%d %b %Y}", summary_text(now))


def summary_text(now):
    from backoffice import stats

    since = now - timedelta(days=1)
    figures = stats.funnel(since=since)
    referral = (
        f"referral earned: {figures['referral_sats']:,} sats"
        if figures["referral_address"]
        else "referral: SMS4SATS_REF is not set"
    )
    return (
        f"Last 24 hours: {figures['created']:,} orders, {figures['paid']:,} paid, {figures['completed']:,} completed; "
        f"charged {figures['buyers_sats']:,} sats paid by buyers and {figures['balance_sats']:,} sats paid from "
        f"the prepaid balance ({figures['paid_from_balance']:,} orders); {referral} (on what buyers paid); "
        f"{stats.refunds_by_reason(since)['total']:,} refunded."
    )
