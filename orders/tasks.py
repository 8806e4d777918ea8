"""Celery tasks: thin callers of the lifecycle and catalog functions."""

from celery import shared_task

from sms4sats_site.health import record_heartbeat


@shared_task(ignore_result=True)
def heartbeat():
    record_heartbeat()
