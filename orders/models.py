import hashlib
import secrets
import uuid

from django.db import models
from django.urls import reverse
from django.utils import timezone


def new_webhook_secret():
    return secrets.token_urlsafe(24)


class Kind(models.TextChoices):
    RECEIVE = "receive", "Receive a code"
    RENTAL = "rental", "Rent a number"
    SEND = "send", "Send an SMS"
    FUND = "fund", "Fund the prepaid account"


class Status(models.TextChoices):
    NEW = "new", "New"
    CREATING = "creating", "Creating"
    UNPAID = "unpaid", "Waiting for payment"
    HELD = "held", "Paid (held)"
    WAITING_CODE = "waiting_code", "Waiting for the code"
    COMPLETED = "completed", "Completed"
    REFUNDED = "refunded", "Refunded"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"


TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.REFUNDED, Status.EXPIRED, Status.FAILED})
PAID_STATUSES = frozenset({Status.HELD, Status.WAITING_CODE, Status.COMPLETED, Status.REFUNDED})


class RefundReason(models.TextChoices):
    NO_NUMBER = "no_number", "No number was available"
    TIMEOUT = "timeout", "No code arrived in time"
    CANCELED = "canceled", "Canceled"
    SMS_FAILED = "sms_failed", "The SMS could not be sent"
    UPSTREAM = "upstream", "Canceled by sms4sats"


class SmsStatus(models.TextChoices):
    CREATED = "created", "Created"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Order(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECEIVE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)

    # What was ordered. country_code is the provider's cc (999 = Auto-Select, 0 = Russia).
    country_code = models.IntegerField(null=True, blank=True)
    country_name = models.CharField(max_length=100, blank=True)
    service_code = models.CharField(max_length=40, blank=True)
    service_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField("destination phone", max_length=20, blank=True)  # send orders, E.164
    message = models.CharField(max_length=140, blank=True)  # send orders
    rental_weeks = models.PositiveSmallIntegerField(null=True, blank=True)

    # Money: the price quoted to the buyer and what the invoice actually asks (sats).
    quoted_sats = models.PositiveBigIntegerField()
    invoice_sats = models.PositiveBigIntegerField(null=True, blank=True)
    bolt11 = models.TextField(blank=True)
    payment_hash = models.CharField(max_length=64, blank=True)
    invoice_expires_at = models.DateTimeField(null=True, blank=True)

    # Upstream state.
    upstream_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    number = models.CharField(max_length=32, blank=True)
    code = models.CharField(max_length=64, blank=True)
    sms_status = models.CharField(max_length=10, choices=SmsStatus.choices, blank=True)
    upstream_error = models.TextField(blank=True)
    refund_reason = models.CharField(max_length=12, choices=RefundReason.choices, blank=True)
    failure_reason = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    number_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # Set while a cancel asked for by the buyer or operator waits for sms4sats' answer.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Polling: due when next_poll_at <= now; None once terminal.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    poll_failures = models.PositiveIntegerField(default=0)

    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    webhook_secret = models.CharField(max_length=40, default=new_webhook_secret, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_poll_at"], name="order_due_idx", condition=models.Q(next_poll_at__isnull=False)),
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
            models.Index(fields=["kind", "created_at"], name="order_kind_created_idx"),
            models.Index(fields=["country_code"], name="order_country_idx"),
            models.Index(fields=["service_code"], name="order_service_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.public_id}"

    def get_absolute_url(self):
        return reverse("orders:detail", args=[self.public_id])

    @property
    def is_terminal(self):
        return self.status in TERMINAL_STATUSES

    @property
    def is_paid(self):
        return self.status in PAID_STATUSES

    @property
    def display_number(self):
        return f"+{self.number}" if self.number and not self.number.startswith("+") else self.number

    @property
    def auto_cancel_at(self):
        from django.conf import settings

        if self.paid_at is None:
            return None
        return self.paid_at + timezone.timedelta(seconds=settings.AUTO_CANCEL_SECONDS)

    @property
    def cancel_allowed_at(self):
        from django.conf import settings

        if self.paid_at is None:
            return None
        return self.paid_at + timezone.timedelta(seconds=settings.CANCEL_AFTER_SECONDS)

    def cancel_opens_at(self):
        """When the buyer may cancel (a paid receive/rental order without a code, 2 minutes after payment);
        None when this state can never be canceled."""
        if (
            self.kind in (Kind.RECEIVE, Kind.RENTAL)
            and self.status in (Status.HELD, Status.WAITING_CODE)
            and not self.code
            and self.cancel_requested_at is None
        ):
            return self.cancel_allowed_at
        return None

    def can_cancel(self, now=None):
        opens = self.cancel_opens_at()
        return opens is not None and (now or timezone.now()) >= opens

    @property
    def is_live(self):
        """Should the buyer's page keep polling? While the engine still watches the order: until a terminal
        state, and after it while something can still change (a late payment in the expiry grace window, an
        SMS delivery report). The engine says so by keeping ``next_poll_at`` set."""
        return not self.is_terminal or self.next_poll_at is not None

    def status_version(self, can_cancel):
        """A short fingerprint of everything the status part shows: equal versions, same page."""
        state = "|".join(
            str(part)
            for part in (
                self.status,
                self.sms_status,
                self.number,
                self.code,
                can_cancel,
                bool(self.bolt11),
                self.refund_reason,
                self.invoice_sats,
                self.cancel_requested_at is not None,
            )
        )
        return hashlib.sha256(state.encode()).hexdigest()[:16]

    @property
    def seconds_to_code(self):
        if self.paid_at and self.completed_at and self.kind in (Kind.RECEIVE, Kind.RENTAL):
            return (self.completed_at - self.paid_at).total_seconds()
        return None


class OrderEvent(models.Model):
    """One step of an order's timeline: a transition and the upstream answer that caused it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    note = models.TextField(blank=True)
    upstream = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.from_status or '-'} → {self.to_status}"
