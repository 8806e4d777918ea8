"""Raising an alert (a log row, then a worker task on commit) and delivering it through Apprise.

Each Apprise URL of ALERT_URLS is a target, sent to on its own: a retry goes only to the targets that failed,
so one broken target never repeats the alert on the others. The URLs carry secrets (bot tokens, passwords):
they are never logged or shown, only counted and numbered ("target 2: …").
"""

import logging
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

from shopsettings import runtime
from sms4sats_site import outbound

from .models import AlertLog, Event, NotificationRule, Result

log = logging.getLogger(__name__)

DELIVER_TASK = "alerts.tasks.deliver_alert"
# An alert not yet tried this long after it was raised is taken for lost and enqueued again, for a day.
LOST_AFTER = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=1)
ERROR_CHARS = 500

# How each event looks in apps that show a kind (Telegram's icon, ntfy's tags, a JSON receiver's "type"): Apprise's
# notify types. Apprise itself is imported only where it sends (its import takes about a second).
NOTIFY_TYPES = {
    Event.UPSTREAM_DOWN: "failure",
    Event.WORKER_STALE: "failure",
    Event.CREATOR_STALE: "failure",
    Event.CREATION_LAGGING: "warning",
    Event.REFUNDS_HIGH: "warning",
    Event.BALANCE_LOW: "warning",
    Event.REFERRAL_BROKEN: "failure",
    Event.WEBHOOKS_FAILING: "failure",
    Event.SUPPRESSED: "warning",
    Event.UPSTREAM_UP: "success",
    Event.WORKER_BACK: "success",
    Event.CREATOR_BACK: "success",
    Event.CREATION_CAUGHT_UP: "success",
    Event.REFUNDS_NORMAL: "success",
    Event.BALANCE_OK: "success",
    Event.REFERRAL_OK: "success",
    Event.WEBHOOKS_OK: "success",
}


def target_urls():
    """The Apprise URLs of ALERT_URLS (separated by spaces or commas; a comma inside a URL's query stays)."""
    if not runtime.get("ALERT_URLS"):
        return []
    from apprise.utils.parse import parse_urls

    return parse_urls(runtime.get("ALERT_URLS"))


def alerts_on():
    return bool(target_urls())


def raise_alert(event, title, body, queue=None):
    """Log the alert and have a worker deliver it once the transaction commits; None when alerts are off.
    The notification rules that chose this event get it too (``notify``), whether ALERT_URLS is set or not.

    ``queue``: the Celery queue of the delivering worker (the other worker's, when one is stale)."""
    notify(event, title, body, queue=queue)
    urls = target_urls()
    if not urls:
        log.info("Alert not sent (ALERT_URLS is empty): %s", title)
        return None
    log.warning("Alert: %s", title)
    return _log_and_enqueue(event, title, body, len(urls), queue=queue)


def _log_and_enqueue(event, title, body, targets, rule=None, queue=None):
    entry = AlertLog.objects.create(event=event, title=title[:200], body=body, targets=targets, rule=rule)
    transaction.on_commit(
        lambda: current_app.send_task(DELIVER_TASK, args=(entry.pk,), queue=queue),
        robust=True,  # the broker away: the row stays "queued" and resend_lost enqueues it again
    )
    return entry


def notify(event, title, body, rules=None, queue=None):
    """Per-event notifications: one log row, delivered like an alert, for each active rule that chose ``event``
    (or for each of ``rules``: the admin's test). Returns the rows."""
    if rules is None:
        rules = [rule for rule in NotificationRule.objects.filter(active=True) if event in rule.events]
    return [_log_and_enqueue(event, title, body, len(rule.target_urls()), rule, queue) for rule in rules]


def deliver(log_id, pending=None, attempt=0, last_attempt=True):
    """Send one logged alert to its targets (all, or the numbers in ``pending``); record the outcome.

    ``attempt`` (0 first, then the task's retries) is claimed on the row (compare-and-set on ``attempts``), so a
    task enqueued twice (``resend_lost``) sends once. Returns the numbers of the targets that failed."""
    if not AlertLog.objects.filter(pk=log_id, attempts=attempt).update(attempts=attempt + 1):
        return []  # gone, or this attempt was made already
    entry = AlertLog.objects.select_related("rule").get(pk=log_id)
    urls = entry.rule.target_urls() if entry.rule else target_urls()
    numbers = [n for n in (range(len(urls)) if pending is None else pending) if n < len(urls)]
    errors = {}
    for number in numbers:
        ok, error = send_one(urls[number], entry)
        if not ok:
            errors[number] = error
    entry.delivered += len(numbers) - len(errors)
    entry.error = "\n".join(f"target {n + 1}: {error}" for n, error in sorted(errors.items()))
    if not errors:
        entry.result = Result.SENT
    else:
        entry.result = Result.FAILED if last_attempt else Result.RETRYING
    if entry.result != Result.RETRYING:
        entry.finished_at = timezone.now()
    entry.save(update_fields=["delivered", "error", "result", "finished_at"])
    return sorted(errors)


def purge_log(older_than_days, now=None):
    """Forget alerts older than ``older_than_days`` (ALERT_LOG_RETENTION_DAYS), except any still being sent.
    Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    old = AlertLog.objects.filter(created_at__lt=cutoff).exclude(result__in=(Result.QUEUED, Result.RETRYING))
    return old.delete()[0]


def resend_lost(now=None):
    """Enqueue again the alerts still waiting for their first attempt after LOST_AFTER (the broker was away when
    they were raised, or it restarted empty); the attempt's claim makes a duplicate harmless. Returns how many."""
    now = now or timezone.now()
    lost = AlertLog.objects.filter(
        result=Result.QUEUED, attempts=0, created_at__lt=now - LOST_AFTER, created_at__gte=now - GIVE_UP_AFTER
    ).values_list("pk", flat=True)
    count = 0
    for pk in lost:
        current_app.send_task(DELIVER_TASK, args=(pk,))
        count += 1
    return count


# Apprise's targets that POST to any host an admin names. Apprise sends them itself (with requests: no transport
# to hand it), so they cannot go through sms4sats_site.outbound; their host gets the same guard just before.
HTTP_TARGETS = {"json": "http", "jsons": "https", "form": "http", "forms": "https", "xml": "http", "xmls": "https"}


def target_problem(url):
    """Why a json/form/xml target may not be sent to (it resolves to an internal address), or None."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in HTTP_TARGETS:
        return None
    return outbound.url_problem(f"{HTTP_TARGETS[scheme.lower()]}://{rest}")


def send_one(url, entry):
    """(ok, error text) for one target; Apprise's own warnings are the error text, the URL never is."""
    import apprise

    problem = target_problem(url)
    if problem:
        return False, f"refused: {problem}"[-ERROR_CHARS:]
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False, "Apprise does not understand this URL (check its scheme and parts)"
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as output:
        try:
            ok = bool(
                notifier.notify(
                    title=entry.title,
                    body=entry.body or entry.title,
                    notify_type=NOTIFY_TYPES.get(entry.event, "info"),
                )
            )
            text = output.getvalue()
        except Exception as exc:  # a plugin's own bug must not lose the other targets
            ok, text = False, f"{type(exc).__name__}: {exc}"
    if ok:
        return True, ""
    return False, scrub(text, url) or "not delivered (Apprise gave no reason)"


def scrub(text, url):
    """The last lines of Apprise's warnings, without the URL or any password it holds."""
    from urllib.parse import urlsplit

    text = text.replace(url, "<target>")
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "…")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-3:])[-ERROR_CHARS:]
