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
    DAILY_SUMMARY = "daily_summary", "daily summary"
    SUPPRESSED = "suppressed", "alerts held back (summary)"
    TEST = "test", "test alert"


class Result(models.TextChoices):
    QUEUED = "queued", "queued"
    SENT = "sent", "sent"
    RETRYING = "retrying", "failed, will retry"
    FAILED = "failed", "failed"


class AlertLog(models.Model):
    created_at = models.DateTimeField("when", default=timezone.now, db_index=True)
    event = models.CharField(max_length=24, choices=Event.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    targets = models.PositiveSmallIntegerField(default=0, help_text="Apprise URLs in ALERT_URLS when raised")
    delivered = models.PositiveSmallIntegerField(default=0, help_text="targets that accepted it")
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.QUEUED)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "alert"

    def __str__(self):
        return f"{self.get_event_display()}: {self.title}"
