"""Celery tasks: thin callers of the lifecycle, polling and catalog functions.

Every task has a soft and a hard time limit sized to its work (sms4sats_site/celery.py says how they apply
for each pool): a soft limit ends the task with SoftTimeLimitExceeded, raised where the task is, so that it can
end cleanly (logged, retried, or left to the sweep); the hard limit kills the process that did not.
"""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import lifecycle, polling, process_health
from .sms4sats import UpstreamUnavailable

log = logging.getLogger(__name__)

# One sms4sats call, with its deadline (SMS4SATS_TIMEOUT), and the database work around it.
ONE_CALL = settings.SMS4SATS_TIMEOUT + 20


@shared_task(ignore_result=True, soft_time_limit=10, time_limit=20)
def heartbeat():
    process_health.record_heartbeat()


@shared_task(ignore_result=True, soft_time_limit=ONE_CALL, time_limit=ONE_CALL + 15)
def create_order(order_id):
    lifecycle.create_upstream(order_id)


@shared_task(bind=True, ignore_result=True, max_retries=10, soft_time_limit=ONE_CALL, time_limit=ONE_CALL + 15)
def cancel_order(self, order_id):
    try:
        lifecycle.cancel_upstream(order_id)
    except (UpstreamUnavailable, SoftTimeLimitExceeded) as exc:
        # A cancel that ran out of time is asked again: cancelling twice is harmless, not cancelling is not.
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc


@shared_task(
    ignore_result=True,
    soft_time_limit=settings.POLL_CYCLE_MAX_SECONDS + ONE_CALL,
    time_limit=settings.POLL_CYCLE_MAX_SECONDS + ONE_CALL + 15,
)
def poll_due_orders():
    try:
        return polling.poll_cycle()
    except SoftTimeLimitExceeded:
        # The orders it claimed are due again when their claim runs out (polling.CLAIM_SECONDS).
        log.warning("A poll cycle ran out of its time limit; the next tick polls again")
        return None


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def sweep_orders():
    return polling.sweep()


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=280)
def refresh_catalog():
    from . import catalog

    catalog.refresh_all()


# Well under HEARTBEAT_MAX_AGE: warm-ups of several countries on a slow sms4sats must not starve the heartbeat.
@shared_task(ignore_result=True, soft_time_limit=25, time_limit=35)
def warm_catalog_country(cc):
    from . import catalog

    catalog.warm_country(cc)


# Rates fetched at start-up may fail while the web (the sandbox's ticker) is still starting: retried soon
# while no rates are known, instead of waiting for the next refresh.
FIAT_START_RETRIES = 6


@shared_task(
    bind=True,
    ignore_result=True,
    max_retries=FIAT_START_RETRIES,
    soft_time_limit=settings.FIAT_RATES_TIMEOUT + 20,
    time_limit=settings.FIAT_RATES_TIMEOUT + 35,
)
def refresh_fiat_rates(self):
    from orders import fiat

    if not fiat.refresh_rates() and not fiat.current_rates() and self.request.retries < FIAT_START_RETRIES:
        raise self.retry(countdown=5)


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def purge_personal_data():
    from django.conf import settings

    from .privacy import purge

    return purge(settings.PERSONAL_DATA_RETENTION_DAYS)


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360)
def clear_expired_sessions():
    """Delete expired browser sessions (Django's ``clearsessions``); the session store never does by itself."""
    from django.core.management import call_command

    call_command("clearsessions")
