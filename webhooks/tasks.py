"""Celery tasks: thin callers of webhooks.delivery."""

from celery import shared_task

from . import delivery


@shared_task(ignore_result=True)
def deliver(delivery_id):
    delivery.attempt(delivery_id)


@shared_task(ignore_result=True)
def deliver_due():
    return delivery.enqueue_due()
