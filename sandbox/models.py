"""One table: every order the simulated sms4sats issued. Its state is never stored; it is derived from
timestamps (created, paid, canceled) and the sandbox delays, so it progresses with the clock alone."""

from datetime import timedelta

from django.conf import settings
from django.db import models

from . import catalog

_RETURNED = "payment request is canceled. Your funds are returned to your wallet automatically."
NO_NUMBER_ERROR = f"No available number, {_RETURNED}"  # verbatim from the contract
TIMED_OUT_ERROR = f"No code received in time, {_RETURNED}"
CANCELED_ERROR = f"Order canceled, {_RETURNED}"

# States whose held payment was canceled (funds back to the payer, or to the API-key balance).
REFUNDED = {"no_number", "timed_out", "canceled", "failed"}
SMS_STATUSES = ["created", "sent", "delivered", "failed"]


def ms(when):
    return int(when.timestamp() * 1000)


def seconds(value):
    return timedelta(seconds=float(value))


class SandboxOrder(models.Model):
    RECEIVE, RENTAL, SEND, FUND = "receive", "rental", "send", "fund"
    KIND_CHOICES = [(k, k) for k in (RECEIVE, RENTAL, SEND, FUND)]

    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    order_id = models.CharField(max_length=64, unique=True)  # = the payment hash
    preimage = models.CharField(max_length=64)
    payreq = models.TextField(blank=True)  # empty for immediate orders (paid from the balance)
    amount = models.PositiveIntegerField()
    description = models.CharField(max_length=200, blank=True)
    country = models.IntegerField(null=True, blank=True)  # cc as ordered (999 = Auto-Select)
    service = models.CharField(max_length=20, blank=True)
    realphone = models.BooleanField(default=False)
    ref = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    message = models.CharField(max_length=140, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    api_key = models.CharField(max_length=200, blank=True)  # fund orders and immediate orders
    immediate = models.BooleanField(default=False)
    scenario = models.CharField(max_length=20, blank=True)  # "", no_number, no_code, sms_fail
    rental_weeks = models.PositiveSmallIntegerField(null=True, blank=True)  # rentals: the rented weeks
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    webhook_status = models.CharField(max_length=10, blank=True)  # last smsStatus POSTed to webhook_url

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "paid_at"])]

    def __str__(self):
        return f"{self.kind} {self.order_id[:12]}"

    # --- time-driven state -------------------------------------------------------------------

    def timeline(self):
        """[(when, state), ...] in time order: the whole life of this order as far as it is decided."""
        events = [(self.created_at, "unpaid")]
        if self.paid_at is None:
            return events + [(self.expires_at, "expired")]
        paid = self.paid_at
        if self.kind == self.FUND:
            events.append((paid, "credited"))
        elif self.kind == self.SEND:
            sent = paid + seconds(settings.SANDBOX_SMS_SENT_DELAY)
            events.append((paid, "created"))
            if self.scenario == "sms_fail":
                events.append((sent, "failed"))
            else:
                events += [(sent, "sent"), (sent + seconds(settings.SANDBOX_SMS_DELIVERED_DELAY), "delivered")]
        else:
            events += self._activation_events(paid)
        if self.canceled_at is not None:
            # A cancel cuts the story short (it is refused once a code is in, so nothing settled is lost).
            events = [e for e in events if e[0] <= self.canceled_at] + [(self.canceled_at, "canceled")]
        return events

    def _activation_events(self, paid):
        number_at = paid + seconds(settings.SANDBOX_NUMBER_DELAY)
        code_at = number_at + seconds(settings.SANDBOX_CODE_DELAY)
        events = [(paid, "held")]
        if self.scenario == "no_number":
            return events + [(number_at, "no_number")]
        events.append((number_at, "waiting_code"))
        if self.kind == self.RENTAL:
            # Rentals are not refundable: no auto-cancel, and SMS keep coming during the rented weeks.
            return events if self.scenario == "no_code" else events + [(at, "code") for at in self.rental_sms_times()]
        timeout_at = paid + seconds(settings.SANDBOX_AUTO_CANCEL)
        if self.scenario == "no_code" or code_at >= timeout_at:
            return events + [(timeout_at, "timed_out")]
        return events + [(code_at, "code")]

    def rental_end(self):
        return self.paid_at + timedelta(weeks=self.rental_weeks or 1)

    def rental_sms_times(self):
        """When a rented number receives its SMS: the first SANDBOX_CODE_DELAY after the number, then one every
        SANDBOX_RENTAL_SMS_INTERVAL, SANDBOX_RENTAL_SMS_COUNT in all, none after the rental's end."""
        first = self.number_at() + seconds(settings.SANDBOX_CODE_DELAY)
        every = seconds(settings.SANDBOX_RENTAL_SMS_INTERVAL)
        times = (first + i * every for i in range(settings.SANDBOX_RENTAL_SMS_COUNT))
        return [at for at in times if at < self.rental_end()]

    def state_at(self, when):
        """(state, since) at a moment."""
        events = self.timeline()
        current = events[0]
        for event in events:
            if event[0] <= when:
                current = event
        return current[1], current[0]

    def state(self, when):
        return self.state_at(when)[0]

    def refunded(self, when):
        return self.state(when) in REFUNDED

    # --- what /orderstatus says ------------------------------------------------------------

    def number_at(self):
        return self.paid_at + seconds(settings.SANDBOX_NUMBER_DELAY)

    def status_body(self, when):
        state, since = self.state_at(when)
        if state in ("unpaid", "expired"):
            return {"status": "OK", "paid": False}
        if self.kind == self.FUND:
            return {"status": "OK", "paid": True}
        if self.kind == self.SEND:
            return {"status": "OK", "paid": True, "id": self.sms_id, "smsStatus": state, "timestamp": ms(since)}
        body = {"status": "OK", "paid": True}
        if state == "no_number":
            body["error"] = NO_NUMBER_ERROR
            return body
        if state == "held" or (state == "canceled" and when < self.number_at()):
            if state == "canceled":
                body["error"] = CANCELED_ERROR
            return body
        body.update(
            {
                "id": self.activation_id,
                "number": self.phone_number,
                "timestamp": ms(self.number_at()),
                "country": catalog.country_names()[self.number_country],
                "service": catalog.service_name(self.service),
            }
        )
        if state == "code":
            body["code"] = self.latest_code(when)
        elif state == "timed_out":
            body["error"] = TIMED_OUT_ERROR
        elif state == "canceled":
            body["error"] = CANCELED_ERROR
        return body

    # Simulated identifiers, all derived from the order id so they never change.

    def _h(self, label):
        return catalog.stable_hash(label, self.order_id)

    @property
    def number_country(self):
        if self.country == catalog.AUTO_SELECT:
            return catalog.AUTO_SELECT_POOL[self._h("auto") % len(catalog.AUTO_SELECT_POOL)]
        return self.country

    @property
    def activation_id(self):
        return 1_000_000_000 + self._h("activation") % 999_000_000

    @property
    def phone_number(self):
        prefix = catalog.DIAL_PREFIX.get(self.number_country, "1")
        return int(prefix + str(2_000_000_000 + self._h("number") % 7_000_000_000))

    @property
    def sms_code(self):
        return self.nth_code(0)

    def nth_code(self, n):
        # 5 digits, never a leading zero (JSON numbers lose it); a step prime to 90000 keeps all of them distinct.
        return 10000 + (self._h("code") + n * 7919) % 90000

    def latest_code(self, when):
        """/orderstatus's code: a rental's is the last SMS received so far (a sandbox choice: the contract does not
        say how later SMS show; most likely this way)."""
        if self.kind != self.RENTAL:
            return self.sms_code
        return self.nth_code(sum(1 for at in self.rental_sms_times() if at <= when) - 1)

    @property
    def sms_id(self):
        return "SM" + self.order_id[:32]


def balance(api_key, when):
    """Prepaid balance: paid fundings minus immediate orders, except those whose payment was canceled
    (an immediate order that got no number, timed out, was canceled or failed is credited back)."""
    funded = SandboxOrder.objects.filter(kind=SandboxOrder.FUND, api_key=api_key, paid_at__isnull=False)
    total = sum(funded.values_list("amount", flat=True))
    for order in SandboxOrder.objects.filter(immediate=True, api_key=api_key):
        if not order.refunded(when):
            total -= order.amount
    return total
