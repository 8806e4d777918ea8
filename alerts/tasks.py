"""Celery tasks: thin callers of alerts/checks.py and alerts/delivery.py (beat schedules the checks)."""

import logging

from celery import shared_task
from django.conf import settings

from . import checks, delivery

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30


@shared_task(bind=True, ignore_result=True, max_retries=settings.ALERT_MAX_RETRIES)
def deliver_alert(self, log_id, pending=None):
    """Send one logged alert; the targets that failed are tried again 30 s, 1, 2, 4… min later."""
    attempt = self.request.retries
    last = attempt >= self.max_retries
    failed = delivery.deliver(log_id, pending, attempt=attempt, last_attempt=last)
    if failed and not last:
        raise self.retry(args=(log_id, failed), countdown=RETRY_BASE_SECONDS * 2**self.request.retries)


@shared_task(ignore_result=True)
def upstream_changed():
    """Enqueued by orders/upstream_health.py when sms4sats goes down or comes back."""
    checks.check_upstream()


@shared_task(ignore_result=True)
def creator_heartbeat():
    """Routed to the creator's queue: the main worker watches it (checks.check_creator_worker)."""
    checks.record_creator_heartbeat()


@shared_task(ignore_result=True)
def check_main_worker():
    """Routed to the creator's queue: the creator watches the main worker."""
    checks.check_main_worker()


@shared_task(ignore_result=True)
def check_conditions():
    """The minute's checks, each on its own: one that fails (the database away) does not skip the others."""
    minute = (
        checks.check_creator_worker,
        checks.check_upstream,
        checks.check_creation_lag,
        checks.check_refunds,
        delivery.resend_lost,
    )
    for check in minute:
        try:
            check()
        except Exception:
            log.exception("Alert check %s failed", check.__name__)


@shared_task(ignore_result=True)
def check_balance():
    checks.check_balance()


@shared_task(ignore_result=True)
def check_referral():
    checks.check_referral()


@shared_task(ignore_result=True)
def daily_summary():
    checks.daily_summary()
