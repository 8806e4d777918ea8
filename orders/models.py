import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from . import countries
from .sms4sats.contract import visible, written_out

# A duration's words per unit, largest first (lazy: the plural form is chosen by "count" when formatted).
DURATION_UNITS = (
    (604800, ngettext_lazy("%(count)d week", "%(count)d weeks", "count")),
    (86400, ngettext_lazy("%(count)d day", "%(count)d days", "count")),
    (3600, ngettext_lazy("%(count)d hour", "%(count)d hours", "count")),
    (60, ngettext_lazy("%(count)d minute", "%(count)d minutes", "count")),
    (1, ngettext_lazy("%(count)d second", "%(count)d seconds", "count")),
)


def format_duration(seconds):
    """A short duration in the page's language: "2 minutes", "1 hour", "45 seconds" when round; "2 min 05 s",
    "1 h 03 min" otherwise (measured times, as the admin shows them); a dash for None."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    for size, words in DURATION_UNITS:
        if seconds < 60 if size == 1 else (seconds >= size and seconds % size == 0):
            return words % {"count": seconds // size}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return gettext("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": seconds}
    hours, minutes = divmod(minutes, 60)
    return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}


def new_webhook_secret():
    return secrets.token_urlsafe(24)


class Kind(models.TextChoices):
    RECEIVE = "receive", _("Receive a code")
    RENTAL = "rental", _("Rent a number")
    SEND = "send", _("Send an SMS")
    FUND = "fund", _("Fund the prepaid account")


class Status(models.TextChoices):
    NEW = "new", _("New")
    CREATING = "creating", _("Creating")
    UNPAID = "unpaid", _("Waiting for payment")
    HELD = "held", _("Paid (held)")
    WAITING_CODE = "waiting_code", _("Waiting for the code")
    ACTIVE = "active", _("Rental active")
    COMPLETED = "completed", _("Completed")
    REFUNDED = "refunded", _("Refunded")
    EXPIRED = "expired", _("Expired")
    FAILED = "failed", _("Failed")
    ENDED = "ended", _("Rental ended")


# The shop's vocabulary: named sets of kinds and statuses, used everywhere instead of spelled-out tuples.
TERMINAL_STATUSES = frozenset({Status.COMPLETED, Status.REFUNDED, Status.EXPIRED, Status.FAILED, Status.ENDED})
PAID_STATUSES = frozenset(
    {Status.HELD, Status.WAITING_CODE, Status.ACTIVE, Status.COMPLETED, Status.REFUNDED, Status.ENDED}
)
# Paid and held, nothing final yet: sms4sats will settle (code, SMS sent) or return the payment.
HOLDING_STATUSES = frozenset({Status.HELD, Status.WAITING_CODE})
# Not at sms4sats yet: the creation task owns the order (no invoice, no upstream id).
CREATION_STATUSES = frozenset({Status.NEW, Status.CREATING})
# The buyer was charged, on sms4sats' word: a code or a sent SMS (completed), or a rental's number given (active,
# then ended: not refundable from then on).
CHARGED_STATUSES = frozenset({Status.COMPLETED, Status.ACTIVE, Status.ENDED})
# sms4sats decided about a held payment: settled (completed) or returned (refunded).
DECIDED_STATUSES = frozenset({Status.COMPLETED, Status.REFUNDED})
# sms4sats may still settle: a code or a sent SMS shown while held, or even after a refund (it settles only then,
# so the buyer was charged and gets what was paid for).
SETTLEABLE_STATUSES = HOLDING_STATUSES | {Status.REFUNDED}
# Orders for a phone number (a one-time code or a rental).
NUMBER_KINDS = frozenset({Kind.RECEIVE, Kind.RENTAL})
# What buyers order on the storefront; funding the prepaid account is the operator's business.
STOREFRONT_KINDS = frozenset({Kind.RECEIVE, Kind.RENTAL, Kind.SEND})


class RefundReason(models.TextChoices):
    NO_NUMBER = "no_number", _("No number was available")
    TIMEOUT = "timeout", _("No code arrived in time")
    CANCELED = "canceled", _("Canceled")
    SMS_FAILED = "sms_failed", _("The SMS could not be sent")
    UPSTREAM = "upstream", _("Canceled by sms4sats")


class SmsStatus(models.TextChoices):
    CREATED = "created", _("Created")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


# The SMS has left sms4sats (sms4sats may report "delivered" without a "sent" first).
SMS_SENT_STATUSES = frozenset({SmsStatus.SENT, SmsStatus.DELIVERED})
# A delivery report may still come: nothing reported yet, queued, or sent.
SMS_PENDING_STATUSES = frozenset({"", SmsStatus.CREATED, SmsStatus.SENT})


class OrderQuerySet(models.QuerySet):
    def storefront(self):
        """The buyers' orders (not the operator's prepaid top-ups)."""
        return self.exclude(kind=Kind.FUND)

    def for_session(self, session_key):
        return self.storefront().filter(session_key=session_key) if session_key else self.none()

    def due(self, now):
        """Orders the engine should ask sms4sats about now."""
        return self.filter(next_poll_at__lte=now)

    def watched_by_engine(self):
        """Orders the engine still polls (a schedule is set)."""
        return self.filter(next_poll_at__isnull=False)


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
    # A rental is the buyer's from its number until this moment; its SMS are RentalMessages (sms_count of them).
    rental_ends_at = models.DateTimeField(null=True, blank=True)
    sms_count = models.PositiveIntegerField(default=0)

    # Money: the price quoted to the buyer and what the invoice actually asks (sats).
    quoted_sats = models.PositiveBigIntegerField()
    invoice_sats = models.PositiveBigIntegerField(null=True, blank=True)
    bolt11 = models.TextField(blank=True)
    payment_hash = models.CharField(max_length=64, blank=True)
    invoice_expires_at = models.DateTimeField(null=True, blank=True)
    # Placed by the operator and paid from the shop's prepaid balance at sms4sats ("immediate"): no invoice, the
    # buyer pays nothing; a payment sms4sats returns goes back to that balance.
    paid_from_balance = models.BooleanField(default=False)
    # The books' rate at the moment of payment: one bitcoin's price in ``fiat_currency`` (the first of
    # FIAT_CURRENCIES with a fresh rate), from the cached rates (orders/fiat.py). Blank when none was fresh.
    fiat_currency = models.CharField(max_length=3, blank=True, editable=False)
    fiat_rate = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True, editable=False)
    # The order this one replaces (a buyer whose code never came gets a new number from the balance).
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replacements", editable=False
    )
    # The one-time key of the admin form that placed an order paid from the balance (a new key per rendered form):
    # a second post of the same form (a double click, a resubmit) finds this order instead of spending again.
    idempotency_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)

    # Upstream state.
    upstream_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    number = models.CharField(max_length=32, blank=True)
    # As sms4sats sent it (invisible characters included): shown to the buyer as ``display_code``.
    code = models.CharField(max_length=640, blank=True)
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

    # Set when the engine stopped asking sms4sats about an order it could not settle (RECONCILE_HORIZON_SECONDS
    # past its local deadline without an answer): for the operator to look at; the buyer is never told a result.
    reconcile_abandoned_at = models.DateTimeField(null=True, blank=True)

    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    webhook_secret = models.CharField(max_length=40, default=new_webhook_secret, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_poll_at"], name="order_due_idx", condition=models.Q(next_poll_at__isnull=False)),
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
            models.Index(fields=["kind", "created_at"], name="order_kind_created_idx"),
            models.Index(fields=["country_code"], name="order_country_idx"),
            models.Index(fields=["service_code"], name="order_service_idx"),
        ]
        constraints = [
            # One replacement under way per order, decided by the database: two tabs replacing the same order at
            # once make one. Once it is over (failed, refunded), the operator may replace the order again.
            models.UniqueConstraint(
                fields=["replaces"],
                condition=models.Q(replaces__isnull=False) & ~models.Q(status__in=sorted(TERMINAL_STATUSES)),
                name="order_one_replacement_under_way",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.public_id}"

    def get_absolute_url(self):
        return reverse("orders:detail", args=[self.public_id])

    @property
    def local_country_name(self):
        """The country in the buyer's language (country_name keeps sms4sats' name, as ordered)."""
        if self.country_code == countries.AUTO_SELECT and self.number:
            # Auto-Select: the country is the number's, once sms4sats gave one.
            return countries.number_country_name(self.number, str(countries.AUTO_SELECT_NAME))
        return countries.country_name(self.country_code, self.country_name)

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
    def what(self):
        """What was ordered, in a few words, for the operator's pages and notifications: never a phone number."""
        if self.kind == Kind.FUND:
            return "Prepaid top-up"
        if self.kind == Kind.SEND:
            return f"SMS to {self.country_name}" if self.country_name else "SMS"
        parts = [self.service_name or self.service_code, self.country_name]
        return ", ".join(part for part in parts if part) or self.get_kind_display()

    @property
    def is_number_order(self):
        return self.kind in NUMBER_KINDS

    @property
    def auto_cancel_at(self):
        """When sms4sats returns a code-less receive order's payment by itself (21 minutes after payment)."""
        if self.paid_at is None or self.kind != Kind.RECEIVE:
            return None
        return self.paid_at + timedelta(seconds=settings.AUTO_CANCEL_SECONDS)

    @property
    def cancel_allowed_at(self):
        if self.paid_at is None:
            return None
        return self.paid_at + timedelta(seconds=settings.CANCEL_AFTER_SECONDS)

    @property
    def buyer_may_cancel(self):
        """The shop's own orders (paid from its prepaid balance) are canceled by the operator only, from the admin."""
        return not self.paid_from_balance

    # The cancel rule, in one place: the lifecycle refuses with these words, the page and the status cache
    # read the moment it opens.
    def cancel_refusal(self, now=None, by="buyer"):
        """Why the buyer (or, ``by="operator"``, the operator) may not cancel now, or None when a cancel may be
        sent to sms4sats."""
        now = now or timezone.now()
        if by == "buyer" and not self.buyer_may_cancel:
            return "The shop paid for this number; only the shop can cancel it. Ask the shop."
        if self.kind != Kind.RECEIVE:
            return gettext("Only one-time code orders can be canceled.")
        if self.status not in HOLDING_STATUSES or self.code:
            return gettext("This order can no longer be canceled.")
        if self.cancel_requested_at:
            return gettext("A cancel is already on its way to sms4sats.")
        if now < self.cancel_allowed_at:
            wait = int((self.cancel_allowed_at - now).total_seconds()) + 1
            return gettext("sms4sats allows a cancel %(after)s after payment; please wait %(wait)s longer.") % {
                "after": format_duration(settings.CANCEL_AFTER_SECONDS),
                "wait": format_duration(wait),
            }
        return None

    def cancel_opens_at(self):
        """When the buyer may cancel (a paid one-time code order without a code, CANCEL_AFTER_SECONDS after
        payment); None when this state can never be canceled."""
        if (
            self.kind == Kind.RECEIVE
            and self.status in HOLDING_STATUSES
            and not self.code
            and self.cancel_requested_at is None
        ):
            return self.cancel_allowed_at
        return None

    def replacement_refusal(self):
        """Why the operator may not replace this order with a number paid from the balance (same country and
        service, for a buyer whose code never came), or None. The admin offers "Replace from balance" only then."""
        if self.kind != Kind.RECEIVE or self.country_code is None:
            return gettext("Only one-time code orders can be replaced.")
        if self.code or self.status == Status.COMPLETED:
            return gettext("This order got its code: there is nothing to replace.")
        if not self.is_paid:
            return gettext("This order was never paid: there is nothing to replace.")
        return None

    def can_cancel(self, now=None):
        opens = self.cancel_opens_at()
        return opens is not None and (now or timezone.now()) >= opens

    # Local deadlines: the shop's clock never decides about money (docs/design.md, "Truth about money").
    # Past one, the order waits for sms4sats to confirm what happened, and the page says so.
    def local_deadline(self):
        """When sms4sats should have decided this order by its own rules (invoice expiry, the automatic
        cancel of a code-less order); None when no such deadline applies to its state."""
        if self.status == Status.UNPAID:
            return self.invoice_expires_at
        if self.status in HOLDING_STATUSES and self.kind == Kind.RECEIVE and self.auto_cancel_at:
            return self.auto_cancel_at + timedelta(seconds=settings.AUTO_CANCEL_GRACE_SECONDS)
        return None

    def awaiting_confirmation(self, now=None):
        deadline = self.local_deadline()
        return deadline is not None and (now or timezone.now()) >= deadline

    def next_poll_time(self, now, watched):
        """When the engine should ask sms4sats about this order next; None once nothing more can change.
        The one polling rule (docs/design.md, "Upstream health and scheduling")."""
        pace = timedelta(seconds=settings.POLL_FAST_SECONDS if watched else settings.POLL_UNWATCHED_SECONDS)
        if self.status in CREATION_STATUSES:
            return None  # the creation task owns it; the sweep enqueues a lost one again
        deadline = self.local_deadline()
        if deadline is not None and now >= deadline:
            if now >= deadline + timedelta(seconds=settings.RECONCILE_HORIZON_SECONDS):
                return None  # longer than any hold can last: the operator looks (reconcile_abandoned_at)
            return now + max(pace, timedelta(seconds=settings.POLL_RECONCILE_SECONDS))
        if self.status == Status.UNPAID or self.status in HOLDING_STATUSES:
            return now + pace
        if self.status == Status.ACTIVE:
            # A rental lasts weeks: nobody looking, once a minute is enough; asked once more after its end.
            if not watched:
                pace = timedelta(seconds=settings.POLL_RENTAL_UNWATCHED_SECONDS)
            if self.rental_ends_at and now < self.rental_ends_at:
                return min(now + pace, self.rental_ends_at)
            return now + timedelta(seconds=settings.POLL_FAST_SECONDS)
        if self.status == Status.EXPIRED:
            # sms4sats said unpaid; a payment could still show for a short while if its clock is behind ours.
            expires_at = self.invoice_expires_at or now
            if now < expires_at + timedelta(seconds=settings.EXPIRY_GRACE_SECONDS):
                return now + pace
            return None
        if self.status == Status.COMPLETED and self.kind == Kind.SEND:
            # Settled at "sent"; keep watching for "delivered" for an hour.
            completed_at = self.completed_at or now
            if self.sms_status in SMS_PENDING_STATUSES and now - completed_at < timedelta(hours=1):
                return now + pace
        return None

    @property
    def is_live(self):
        """Should the buyer's page keep polling? While the engine still watches the order: until a terminal
        state, and after it while something can still change (a late payment in the expiry grace window, an
        SMS delivery report). The engine says so by keeping ``next_poll_at`` set."""
        return not self.is_terminal or self.next_poll_at is not None

    def status_version(self, can_cancel, awaiting=False):
        """A short fingerprint of everything the status part shows: equal versions, same page."""
        state = "|".join(
            str(part)
            for part in (
                awaiting,
                self.status,
                self.sms_status,
                self.number,
                self.code,
                can_cancel,
                bool(self.bolt11),
                self.refund_reason,
                self.invoice_sats,
                self.cancel_requested_at is not None,
                self.sms_count,
            )
        )
        return hashlib.sha256(state.encode()).hexdigest()[:16]

    @property
    def display_code(self):
        return shown_code(self.code)

    @property
    def seconds_to_code(self):
        if self.paid_at and self.completed_at and self.is_number_order:
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


class RentalMessage(models.Model):
    """One SMS a rented number received: a distinct code (or text) seen on sms4sats' order status."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    at = models.DateTimeField(default=timezone.now)
    code = models.CharField(max_length=640)  # as sms4sats sent it, like Order.code
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["order", "code"], name="rental_message_once")]

    def __str__(self):
        return f"{self.code} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def display_code(self):
        return shown_code(self.code)


def shown_code(code):
    """A code as the buyer sees it: without invisible characters (a bidi override would show "1234" as "4321",
    a zero-width space would break the copy); written out when nothing visible is left, never blank."""
    return " ".join(visible(code).split()) or written_out(code)
