"""Celery tasks: thin callers of the lifecycle, polling and catalog functions."""

from celery import shared_task

from sms4sats_site.health import record_heartbeat

from . import lifecycle, polling
from .sms4sats import UpstreamUnavailable


@shared_task(ignore_result=True)
def heartbeat():
    record_heartbeat()


@shared_task(ignore_result=True)
def create_order(order_id):
    lifecycle.create_upstream(order_id)


@shared_task(bind=True, ignore_result=True, max_retries=10)
def cancel_order(self, order_id):
    try:
        lifecycle.cancel_upstream(order_id)
    except UpstreamUnavailable as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc


@shared_task(ignore_result=True)
def poll_due_orders():
    return polling.poll_cycle()


@shared_task(ignore_result=True)
def sweep_orders():
    return polling.sweep()


@shared_task(ignore_result=True)
def refresh_catalog():
    from . import catalog

    catalog.refresh_all()


@shared_task(ignore_result=True)
def warm_catalog_country(cc):
    from . import catalog

    catalog.warm_country(cc)


# Rates fetched at start-up may fail while the web (the sandbox's ticker) is still starting: retried soon
# while no rates are known, instead of waiting for the next refresh.
FIAT_START_RETRIES = 6


@shared_task(bind=True, ignore_result=True, max_retries=FIAT_START_RETRIES)
def refresh_fiat_rates(self):
    from . import fiat

    if not fiat.refresh_rates() and not fiat.current_rates() and self.request.retries < FIAT_START_RETRIES:
        raise self.retry(countdown=5)


@shared_task(ignore_result=True)
def purge_personal_data():
    from django.conf import settings

    from .privacy import purge

    return purge(settings.PERSONAL_DATA_RETENTION_DAYS)


@shared_task(ignore_result=True)
def clear_expired_sessions():
    """Delete expired browser sessions (Django's ``clearsessions``); the session store never does by itself."""
    from django.core.management import call_command

    call_command("clearsessions")
