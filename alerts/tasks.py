"""Celery tasks: thin callers of alerts/checks.py and alerts/delivery.py (beat schedules the checks)."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import checks, delivery

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30
# Each Apprise target is sent to in turn, each with its plugin's own timeouts: a minute for all of them.
DELIVER_SOFT_SECONDS = 60


@shared_task(
    bind=True,
    ignore_result=True,
    max_retries=settings.ALERT_MAX_RETRIES,
    soft_time_limit=DELIVER_SOFT_SECONDS,
    time_limit=DELIVER_SOFT_SECONDS + 15,
)
def deliver_alert(self, log_id, pending=None):
    """Send one logged alert; the targets that failed are tried again 30 s, 1, 2, 4… min later."""
    attempt = self.request.retries
    last = attempt >= self.max_retries
    try:
        failed = delivery.deliver(log_id, pending, attempt=attempt, last_attempt=last)
    except SoftTimeLimitExceeded:
        # A target hung: retried like a failed delivery, to this attempt's targets (one that had accepted it
        # before the hang may see it twice; better than an alert lost).
        log.warning("Alert %s: delivery ran out of its time limit", log_id)
        failed = pending
    if (failed or failed is None) and not last:
        raise self.retry(args=(log_id, failed), countdown=RETRY_BASE_SECONDS * 2**self.request.retries)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def upstream_changed():
    """Enqueued by orders/sms4sats/upstream_health.py when sms4sats goes down or comes back."""
    checks.check_upstream()


@shared_task(ignore_result=True, soft_time_limit=10, time_limit=20)
def creator_heartbeat():
    """Routed to the creator's queue: the main worker watches it (checks.check_creator_worker)."""
    from orders import process_health

    process_health.record_heartbeat(process_health.CREATOR)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def check_main_worker():
    """Routed to the creator's queue: the creator watches the main worker."""
    checks.check_main_worker()


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=58)
def check_conditions():
    """The minute's checks, each on its own: one that fails (the database away) does not skip the others."""
    minute = (
        checks.check_creator_worker,
        checks.check_upstream,
        checks.check_creation_lag,
        checks.check_refunds,
        checks.check_webhooks,
        delivery.resend_lost,
        checks.send_summary,
    )
    for check in minute:
        try:
            check()
        except Exception:
            log.exception("Alert check %s failed", check.__name__)


@shared_task(
    ignore_result=True, soft_time_limit=settings.SMS4SATS_TIMEOUT + 20, time_limit=settings.SMS4SATS_TIMEOUT + 35
)
def check_balance():
    checks.check_balance()


@shared_task(
    ignore_result=True, soft_time_limit=settings.REFERRAL_TIMEOUT + 20, time_limit=settings.REFERRAL_TIMEOUT + 35
)
def check_referral():
    checks.check_referral()


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=75)
def daily_summary():
    checks.daily_summary()


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360)
def purge_log():
    return delivery.purge_log(settings.ALERT_LOG_RETENTION_DAYS)
