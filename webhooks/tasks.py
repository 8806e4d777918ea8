"""Celery tasks: thin callers of webhooks.delivery."""

from celery import shared_task
from django.conf import settings

from . import delivery

# One attempt: connect, write and read each bounded by WEBHOOK_TIMEOUT_SECONDS. The hard limit ends before the
# attempt's lease (delivery.claim), so an attempt killed by it is simply due again when its lease runs out.
ATTEMPT_SOFT_SECONDS = 3 * settings.WEBHOOK_TIMEOUT_SECONDS + 5


@shared_task(ignore_result=True, soft_time_limit=ATTEMPT_SOFT_SECONDS, time_limit=ATTEMPT_SOFT_SECONDS + 10)
def deliver(delivery_id):
    delivery.attempt(delivery_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=75)
def deliver_due():
    return delivery.enqueue_due()


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360)
def purge_log():
    return delivery.purge_log(settings.WEBHOOK_LOG_RETENTION_DAYS)
