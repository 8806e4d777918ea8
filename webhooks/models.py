"""Signed outbound webhooks: the operator's endpoints, the order events sent to them, and every attempt.

An Event is recorded in the same transaction as the order change it describes (``webhooks.events``); each
subscribed endpoint gets a Delivery, due at once. Workers claim and send due deliveries
(``webhooks.delivery``); each try is an Attempt, the delivery log the admin shows.
"""

import secrets
import uuid
from datetime import timedelta

from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from orders.models import Order


class EventType(models.TextChoices):
    # Labelled by their names: the admin shows what receivers see in "type".
    ORDER_PAID = "order.paid", "order.paid"
    ORDER_COMPLETED = "order.completed", "order.completed"
    ORDER_REFUNDED = "order.refunded", "order.refunded"
    ORDER_EXPIRED = "order.expired", "order.expired"
    ORDER_FAILED = "order.failed", "order.failed"
    SMS_SENT = "order.sms_sent", "order.sms_sent"
    SMS_DELIVERED = "order.sms_delivered", "order.sms_delivered"
    RENTAL_SMS_RECEIVED = "order.rental_sms_received", "order.rental_sms_received"
    # Sent only by the admin's "Send test event", to the one endpoint it is asked for; not subscribable.
    TEST = "webhook.test", "webhook.test"


# What each event means, for the operator choosing an endpoint's events (docs/integrating.md has the same table).
EVENT_MEANINGS = {
    EventType.ORDER_PAID: "the payment is held",
    EventType.ORDER_COMPLETED: "a code arrived or the SMS was sent: charged",
    EventType.ORDER_REFUNDED: "the payment was returned",
    EventType.ORDER_EXPIRED: "the invoice was not paid in time",
    EventType.ORDER_FAILED: "could not be created (no money moved)",
    EventType.SMS_SENT: "a send order's SMS was sent",
    EventType.SMS_DELIVERED: "a send order's SMS was delivered",
    EventType.RENTAL_SMS_RECEIVED: "a rented number received an SMS",
    EventType.TEST: "a test sent from the admin",
}
SUBSCRIBABLE = [event for event in EventType if event != EventType.TEST]


def new_endpoint_secret():
    return "whsec_" + secrets.token_urlsafe(32)


class Endpoint(models.Model):
    url = models.CharField(
        "URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where the events are POSTed (https recommended). Redirects are not followed.",
    )
    secret = models.CharField(
        max_length=100,
        default=new_endpoint_secret,
        help_text="Signs every delivery (the Webhook-Signature header). Generated for you: copy it into the "
        "receiving system. Replace it (or use the action 'Rotate the secret') to rotate: for "
        "WEBHOOK_SECRET_OVERLAP_HOURS, each delivery carries a signature with the new and one with the old secret.",
    )
    # The secret replaced last, still signing beside the new one until then (a rotation's overlap).
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    events = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    active = models.BooleanField(
        default=True, help_text="Inactive: no new events are recorded for it and waiting deliveries pause."
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self):
        return self.description or self.url

    def wants(self, event_type):
        return self.active and event_type in self.events

    def replace_secret(self, old_secret, new_secret=None, now=None):
        """Rotate (not saved): ``new_secret`` (or a fresh one) signs from now on, and ``old_secret`` beside it
        for WEBHOOK_SECRET_OVERLAP_HOURS, so that receivers can switch at their own pace."""
        from django.conf import settings

        self.secret = new_secret or new_endpoint_secret()
        if old_secret and old_secret != self.secret:
            self.previous_secret = old_secret
            self.previous_secret_until = (now or timezone.now()) + timedelta(
                hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS
            )

    def signing_secrets(self, now=None):
        """The secrets a delivery is signed with now: the current one, then the previous one during its overlap."""
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > (now or timezone.now()):
            return [self.secret, self.previous_secret]
        return [self.secret]


class Event(models.Model):
    """One order event, with the exact JSON body every endpoint receives (a redelivery sends the same)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events")
    body = models.TextField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.public_id}"


class Delivery(models.Model):
    """One event to one endpoint: due while pending at ``next_attempt_at``, retried with backoff."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Attempts claimed so far (a claim counts before the request goes out: two workers never send one attempt).
    attempts = models.PositiveIntegerField(default=0)
    # Due when in the past while pending; pushed ahead by a claim (a lease) and by a failure (the backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="webhook_due_idx", condition=models.Q(next_attempt_at__isnull=False)
            )
        ]

    def __str__(self):
        return f"{self.event.type} → {self.endpoint}"


class Attempt(models.Model):
    """One POST of a delivery: what the receiver answered (or why nothing came back)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"attempt {self.number}: {self.status_code or self.error}"
