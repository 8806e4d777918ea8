"""Celery tasks: thin callers of webhooks.delivery."""

from celery import shared_task
from django.conf import settings

from . import delivery


@shared_task(ignore_result=True)
def deliver(delivery_id):
    delivery.attempt(delivery_id)


@shared_task(ignore_result=True)
def deliver_due():
    return delivery.enqueue_due()


@shared_task(ignore_result=True)
def purge_log():
    return delivery.purge_log(settings.WEBHOOK_LOG_RETENTION_DAYS)
