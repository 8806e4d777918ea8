"""What the shop sent the operator: one AlertLog row per alert, written when it is raised and updated by the
worker that delivers it (alerts/delivery.py)."""

from django.db import models
from django.utils import timezone


class Event(models.TextChoices):
    UPSTREAM_DOWN = "upstream_down", "sms4sats not answering"
    UPSTREAM_UP = "upstream_up", "sms4sats answering again"
    WORKER_STALE = "worker_stale", "worker stale"
    WORKER_BACK = "worker_back", "worker back"
    CREATOR_STALE = "creator_stale", "creator worker stale"
    CREATOR_BACK = "creator_back", "creator worker back"
    CREATION_LAGGING = "creation_lagging", "creation lagging"
    CREATION_CAUGHT_UP = "creation_caught_up", "creation caught up"
    REFUNDS_HIGH = "refunds_high", "many refunds"
    REFUNDS_NORMAL = "refunds_normal", "refunds back to normal"
    BALANCE_LOW = "balance_low", "prepaid balance low"
    BALANCE_OK = "balance_ok", "prepaid balance topped up"
    REFERRAL_BROKEN = "referral_broken", "referral address not resolving"
    REFERRAL_OK = "referral_ok", "referral address resolving again"
    WEBHOOKS_FAILING = "webhooks_failing", "webhook deliveries failing"
    WEBHOOKS_OK = "webhooks_ok", "webhook deliveries succeed again"
    DAILY_SUMMARY = "daily_summary", "daily summary"
    SUPPRESSED = "suppressed", "alerts held back (summary)"
    TEST = "test", "test alert"


class Result(models.TextChoices):
    QUEUED = "queued", "queued"
    SENT = "sent", "sent"
    RETRYING = "retrying", "failed, will retry"
    FAILED = "failed", "failed"


def order_events():
    from webhooks.models import SUBSCRIBABLE

    return [(event.value, event.label) for event in SUBSCRIBABLE]


def all_events():
    """What an AlertLog row or a notification rule may be about: the alert events, then the order events."""
    return [*Event.choices, *order_events()]


class NotificationRule(models.Model):
    """Per-event notifications (like BTCPay's e-mail rules): these events go to these Apprise targets, besides
    (and independent of) ALERT_URLS. Delivered like alerts (alerts/delivery.py), one AlertLog row per event and
    rule. Events: the order events of webhooks (order.completed, order.refunded, …) and the alert events."""

    name = models.CharField(max_length=100, help_text="For you: e.g. 'Sales to the shop mailbox'.")
    events = models.JSONField(default=list, help_text="The events sent to these targets.")
    urls = models.TextField(
        "Apprise URLs",
        help_text="One or more Apprise URLs (mailto://, telegram://, ntfy://, json://…), separated by spaces, "
        "commas or lines. They hold secrets: shown only on this page.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "notification rule"

    def __str__(self):
        return self.name

    def target_urls(self):
        from apprise.utils.parse import parse_urls

        return parse_urls(self.urls) if self.urls else []


class AlertLog(models.Model):
    created_at = models.DateTimeField("when", default=timezone.now, db_index=True)
    # An alert event, or (sent for a notification rule) an order event: webhooks' event types.
    event = models.CharField(max_length=40, choices=all_events)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    targets = models.PositiveSmallIntegerField(default=0, help_text="Apprise URLs in ALERT_URLS when raised")
    delivered = models.PositiveSmallIntegerField(default=0, help_text="targets that accepted it")
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.QUEUED)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Sent for a notification rule (to its targets), not to ALERT_URLS.
    rule = models.ForeignKey(NotificationRule, null=True, blank=True, on_delete=models.CASCADE, related_name="log")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "alert"

    def __str__(self):
        return f"{self.get_event_display()}: {self.title}"
