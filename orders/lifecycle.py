"""The order lifecycle: every status change of an Order goes through ``transition``.

Each move is checked against ``ALLOWED``, applied as a compare-and-set
(``UPDATE ... WHERE status = old``) and recorded as an OrderEvent, in one transaction (with what the receivers
of ``orders.signals.order_changed`` write: the webhooks' events). Only
workers talk to sms4sats; views call ``place_order`` and ``request_cancel``, which enqueue work.

Money states (completed, refunded, expired) are reached only on an answer of sms4sats, never on the
shop's clock: past a local deadline an order waits for sms4sats to confirm (docs/design.md, "Truth about
money").
"""

import copy
import logging
import time
from datetime import UTC, datetime, timedelta

import bolt11
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone
from django.utils.translation import gettext

from . import countries, fiat, metrics, status_cache
from .models import (
    CREATION_STATUSES,
    HOLDING_STATUSES,
    SETTLEABLE_STATUSES,
    SMS_SENT_STATUSES,
    TERMINAL_STATUSES,
    Kind,
    Order,
    OrderEvent,
    RefundReason,
    RentalMessage,
    SmsStatus,
    Status,
)
from .signals import order_changed
from .sms4sats import Sms4satsError, UpstreamMalformed, UpstreamRejected, UpstreamUnavailable, get_client
from .sms4sats.contract import AUTO_SELECT, NAME_MAX, visible

log = logging.getLogger(__name__)

ALLOWED = {
    Status.NEW: {Status.CREATING, Status.FAILED},
    # Back to NEW only to retry a creation that surely never reached sms4sats (connection refused).
    # Straight to HELD when sms4sats took the price from the prepaid balance (no invoice).
    Status.CREATING: {Status.UNPAID, Status.HELD, Status.FAILED, Status.NEW},
    Status.UNPAID: {Status.HELD, Status.EXPIRED},
    Status.HELD: {Status.WAITING_CODE, Status.ACTIVE, Status.COMPLETED, Status.REFUNDED},
    # A rental, from its number to its end date; refunded only when sms4sats reports it (an error).
    Status.ACTIVE: {Status.ENDED, Status.REFUNDED},
    Status.ENDED: set(),
    Status.WAITING_CODE: {Status.COMPLETED, Status.REFUNDED},
    # sms4sats shows a payment after it said the invoice was unpaid and expired (an admin refresh, or a
    # slower clock at sms4sats).
    Status.EXPIRED: {Status.HELD},
    Status.COMPLETED: set(),
    # A code (or a sent SMS) shown after a refund: sms4sats settles only then, so the buyer was charged and
    # gets what was paid for. Reached by orders an older version refunded on its own clock.
    Status.REFUNDED: {Status.COMPLETED},
    Status.FAILED: set(),
}

NO_NUMBER_MARKER = "no available number"

# The worker tasks the lifecycle enqueues (orders/tasks.py), by name.
CREATE_TASK = "orders.tasks.create_order"
CANCEL_TASK = "orders.tasks.cancel_order"


class TransitionRefused(Exception):
    """A move that the table does not allow (a programming error, or a stale caller)."""


class CancelRefused(Exception):
    """The buyer (or operator) may not cancel this order now; the message says why."""


def transition(order, to_status, *, note="", upstream=None, **fields):
    """Move ``order`` to ``to_status`` if it is still in the status the caller saw.

    Returns True when this call made the move; False when someone else changed the order first
    (the caller's copy is then refreshed). Raises TransitionRefused for a move the table forbids.
    """
    from_status = order.status
    if to_status not in ALLOWED[from_status]:
        raise TransitionRefused(f"{from_status} → {to_status} is not allowed")
    now = timezone.now()
    if "next_poll_at" not in fields:
        after = _as_after(order, to_status, fields)
        fields["next_poll_at"] = after.next_poll_time(now, watched=is_watched(order))
    fields.setdefault("poll_failures", 0)
    if fields.get("paid_at") and "fiat_rate" not in fields:  # the books' rate, stored once, when paid
        fields.update(fiat.rate_at_payment())
    # Inside a caller's transaction (the poll cycle's one per order) the move joins it: no savepoint, whose two
    # round trips per move were a third of applying an answer; an error still undoes the whole transaction.
    with transaction.atomic(savepoint=False):
        moved = Order.objects.filter(pk=order.pk, status=from_status).update(status=to_status, updated_at=now, **fields)
        if moved:
            OrderEvent.objects.create(
                order=order, at=now, from_status=from_status, to_status=to_status, note=note, upstream=upstream
            )
            order_changed.send(Order, order=order, to_status=to_status, fields=fields, at=now)
    if moved:
        order.status = to_status
        for name, value in fields.items():
            setattr(order, name, value)
        remember_status(order)
    else:
        order.refresh_from_db()
    return bool(moved)


def _as_after(order, status, fields):
    """A copy of ``order`` as it will be after an update (to compute its next poll)."""
    after = copy.copy(order)
    after.status = status
    for name, value in fields.items():
        setattr(after, name, value)
    return after


def remember_status(order):
    """Tell the buyer's page (through the status cache) once the change is committed."""
    transaction.on_commit(lambda: status_cache.remember(order), robust=True)


def enqueue_on_commit(task_name, *args, countdown=None):
    """Queue a worker task once the current transaction commits. robust: with the broker down the order is
    still saved, and the sweep enqueues lost work again. By name: the tasks module imports this one."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=args, countdown=countdown), robust=True)


def is_watched(order):
    """Whether a buyer's page polls the order. The poll cycle looks this up for a whole chunk at once and leaves
    the answer on each order (``page_watched``); anyone else asks the status cache about this one order."""
    if getattr(order, "page_watched", None) is not None:
        return order.page_watched
    return order.public_id in status_cache.watched([order.public_id])


def mark_watched(order, now=None):
    """A buyer opened the order's page: ask sms4sats about it at the next cycle, then at the fast pace."""
    now = now or timezone.now()
    status_cache.mark_watched(order.public_id)
    soon = now + timedelta(seconds=settings.POLL_FAST_SECONDS)
    Order.objects.filter(pk=order.pk, next_poll_at__gt=soon).update(next_poll_at=now)


# --- Creation -------------------------------------------------------------------------------


def place_order(
    *,
    kind,
    quoted_sats,
    session_key,
    country_code=None,
    country_name="",
    service_code="",
    service_name="",
    phone="",
    message="",
    rental_weeks=None,
    paid_from_balance=False,
    replaces=None,
    idempotency_key=None,
    placed_by="the operator",
):
    """Save a new order and have a worker create it upstream once the row is committed. ``paid_from_balance``:
    the operator's order, paid from the prepaid balance at sms4sats instead of an invoice (``replaces``: the
    buyer's order it stands in for; ``idempotency_key``: the admin form's one-time key). Raises IntegrityError,
    with nothing saved or queued, when an order with that key exists or the original's replacement is under way."""
    # ``placed_by``: the staff user who placed an order paid from the balance, as the timeline names them.
    note = f"Order placed by {placed_by}, to be paid from the prepaid balance" if paid_from_balance else "Order placed"
    with transaction.atomic():
        order = Order.objects.create(
            kind=kind,
            quoted_sats=quoted_sats,
            session_key=session_key or "",
            country_code=country_code,
            country_name=country_name,
            service_code=service_code,
            service_name=service_name,
            phone=phone,
            message=message,
            rental_weeks=rental_weeks,
            paid_from_balance=paid_from_balance,
            replaces=replaces,
            idempotency_key=idempotency_key,
        )
        OrderEvent.objects.create(order=order, to_status=Status.NEW, note=note)
        enqueue_on_commit(CREATE_TASK, order.pk)
    return order


def create_upstream(order_id, client=None):
    """Claim a NEW order and create it at sms4sats exactly once. Safe to call twice."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status != Status.NEW:
        return order
    if not transition(order, Status.CREATING, note="Creating the order at sms4sats"):
        return order  # another worker claimed it
    client = client or get_client()
    try:
        created = call_create(client, order)
        return accept_invoice_retrying(order, created.order_id, created.payreq)
    except UpstreamUnavailable as exc:
        return retry_or_fail_creation(order, exc)
    except UpstreamMalformed as exc:
        transition(
            order,
            Status.FAILED,
            note=f"sms4sats answered in an unexpected way: {exc.reason}",
            failure_reason=unsure_creation_text(order, "sms4sats answered in an unexpected way."),
        )
    except Sms4satsError as exc:
        transition(
            order,
            Status.FAILED,
            note=f"sms4sats refused the order: {exc.reason}",
            failure_reason=f"sms4sats could not take this order: {exc.reason}",
        )
    except Exception as exc:
        # Never leave a claimed order hanging: the buyer has not seen an invoice, so failing is safe.
        log.exception("Creating order %s failed", order.public_id)
        order.refresh_from_db()
        if order.status == Status.CREATING:
            transition(
                order,
                Status.FAILED,
                note=f"Internal error while creating: {exc.__class__.__name__}",
                failure_reason=unsure_creation_text(order, "The order could not be created."),
            )
    return order


def unsure_creation_text(order, what):
    """The buyer's (or operator's) words for a creation whose outcome at sms4sats is unknown."""
    if order.paid_from_balance:
        # No invoice, but sms4sats may have taken the price from the balance: say where to look.
        return f"{what} sms4sats may have taken the price from the prepaid balance: see the account's balance."
    return f"{what} No invoice was shown and no money moved."


def call_create(client, order):
    immediate = order.paid_from_balance
    if order.is_number_order:
        return client.create_order(
            order.country_code, order.service_code, is_rental=order.kind == Kind.RENTAL, immediate=immediate
        )
    if order.kind == Kind.SEND:
        return client.create_send_order(order.phone, order.message, webhook_url=webhook_url(order), immediate=immediate)
    if order.kind == Kind.FUND:
        return client.fund(order.quoted_sats)
    raise ValueError(f"unknown kind {order.kind}")


def webhook_url(order):
    from django.urls import reverse

    if not settings.PUBLIC_BASE_URL:
        return None
    path = reverse("orders:send_webhook", args=[order.public_id, order.webhook_secret])
    return settings.PUBLIC_BASE_URL + path


def retry_or_fail_creation(order, exc):
    """sms4sats unreachable, or a 5xx. Repeating the create is safe only when sms4sats surely has no order from
    the first request: it never arrived (refused, DNS, connect timeout) or sms4sats answered that it failed.
    When the answer was lost (a read timeout, a reset after sending, a proxy's 502), sms4sats may have created
    an order the shop never saw: trying again would make another one, so the order fails honestly."""
    if exc.answer_lost:
        # The buyer never saw an invoice, so nothing can be paid: no money moved (unless paid from the balance).
        transition(
            order,
            Status.FAILED,
            note=f"Creation sent, no answer: {exc.reason}",
            failure_reason=unsure_creation_text(order, "sms4sats did not answer."),
        )
        return order
    age = (timezone.now() - order.created_at).total_seconds()
    if age >= settings.CREATE_RETRY_SECONDS:
        transition(
            order,
            Status.FAILED,
            note=f"Gave up creating: {exc.reason}",
            failure_reason="sms4sats is unavailable right now. No money moved; please try again later.",
        )
        return order
    attempts = order.events.filter(to_status=Status.CREATING).count()
    delay = min(2**attempts, 30)
    if transition(order, Status.NEW, note=f"sms4sats unavailable ({exc.reason}); retrying in {delay}s"):
        enqueue_on_commit(CREATE_TASK, order.pk, countdown=delay)
    return order


def accept_invoice_retrying(order, upstream_id, payreq, attempts=5):
    """sms4sats has the order now; a short database outage must not lose it, so the write is retried."""
    accept = accept_balance_payment if order.paid_from_balance else accept_invoice
    for attempt in range(attempts):
        try:
            return accept(order, upstream_id, payreq)
        except DatabaseError:
            if attempt == attempts - 1:
                raise
            log.warning("Saving the invoice of order %s failed; retrying", order.public_id)
            time.sleep(2**attempt)
            close_old_connections()
            order.refresh_from_db()
            if order.status != Status.CREATING:
                return order
    return order


def accept_balance_payment(order, upstream_id, payreq):
    """sms4sats took the price from the prepaid balance (its answer's payreq is "paid", checked by the client):
    the order is paid and held like a buyer's, without an invoice."""
    transition(
        order,
        Status.HELD,
        note="Paid from balance: sms4sats took the price from the prepaid balance",
        upstream={"orderId": upstream_id, "payreq": payreq},
        upstream_id=upstream_id,
        paid_at=timezone.now(),
    )
    return order


def accept_invoice(order, upstream_id, payreq):
    """Decode and check the invoice; show it to the buyer only if it asks for the quoted price."""
    try:
        invoice = bolt11.decode(payreq)
    except Exception as exc:  # the library raises several types for a bad string
        transition(
            order,
            Status.FAILED,
            note=f"Undecodable invoice: {exc}",
            upstream={"payreq": payreq},
            upstream_id=upstream_id,
            failure_reason="sms4sats sent an invalid invoice. No money moved.",
        )
        return order
    invoice_sats = (invoice.amount_msat or 0) // 1000
    expires_at = datetime.fromtimestamp(invoice.date + invoice.expiry, tz=UTC)
    fields = {"upstream_id": upstream_id, "invoice_sats": invoice_sats, "payment_hash": invoice.payment_hash or ""}
    if invoice_sats != order.quoted_sats:
        transition(
            order,
            Status.FAILED,
            note=f"Invoice asks {invoice_sats} sats, quoted {order.quoted_sats}",
            upstream={"payreq": payreq},
            failure_reason=(
                f"The price changed at sms4sats ({invoice_sats} sats instead of the {order.quoted_sats} "
                "quoted), so the invoice was not shown. No money moved; please order again."
            ),
            **fields,
        )
        return order
    issued = transition(
        order,
        Status.UNPAID,
        note="Invoice issued",
        upstream={"orderId": upstream_id, "payreq": payreq},
        bolt11=payreq,
        invoice_expires_at=expires_at,
        **fields,
    )
    if issued:  # what the buyer waited for, for /metrics
        metrics.observe_creation((timezone.now() - order.created_at).total_seconds())
    return order


# --- Applying what upstream says ------------------------------------------------------------


def apply_status(order, status, now=None):
    """Move ``order`` as far as the upstream ``status`` (an OrderStatus) shows, one step at a time. Fields sms4sats
    sent that cannot be used (``status.refused``) are noted on the timeline; the sound ones are applied."""
    now = now or timezone.now()
    snapshot = status.raw
    if status.refused:
        note_refused(order, status.refused, snapshot, now)
    if order.status == Status.EXPIRED and status.paid:
        transition(order, Status.HELD, note="Payment seen after the invoice expired", upstream=snapshot, paid_at=now)
    if order.status == Status.UNPAID:
        if status.paid:
            transition(order, Status.HELD, note="Payment held", upstream=snapshot, paid_at=now)
        elif status.paid is False and order.invoice_expires_at and now >= order.invoice_expires_at:
            # sms4sats says unpaid, and the invoice can no longer be paid: expired on sms4sats' word.
            transition(order, Status.EXPIRED, note="sms4sats: unpaid after the invoice expired", upstream=snapshot)
            return order
    if order.kind == Kind.SEND:
        return apply_send_status(order, status, snapshot, now)
    if order.kind == Kind.FUND:
        if order.status == Status.HELD:
            transition(order, Status.COMPLETED, note="Balance credited", upstream=snapshot, completed_at=now)
        return order
    if order.kind == Kind.RENTAL:
        return apply_rental_status(order, status, snapshot, now)
    return apply_receive_status(order, status, snapshot, now)


def note_refused(order, refused, snapshot, now):
    """Record on the order's timeline which fields of sms4sats' answer were not used, and why: once per distinct
    answer, not at every poll that sees it again."""
    note = "sms4sats sent fields the shop cannot use (the rest was applied): " + "; ".join(
        f"{name}: {why}" for name, why in refused
    )
    if OrderEvent.objects.filter(order=order, note=note).exists():
        return
    # Not a change of the order (no webhook event, no status move): one line of its history.
    OrderEvent.objects.create(
        order=order, at=now, from_status=order.status, to_status=order.status, note=note, upstream=snapshot
    )


def code_note(note, code):
    """``note`` of a code's arrival, and whether the buyer sees the code differently from how it came."""
    if visible(code) != code:
        return f"{note} (it has invisible or control characters: the buyer sees it without them)"
    return note


def apply_rental_status(order, status, snapshot, now):
    """A rented number: active from its number until its end date, each new SMS an inbox entry. No local
    cancel: rentals are not refundable once the number is given; refunded only when sms4sats says so."""
    if order.status == Status.HELD:
        if status.error:
            return refund_on_upstream_error(order, status.error, snapshot, now, RefundReason.UPSTREAM)
        if not status.number:
            return order
        ends_at = now + timedelta(weeks=order.rental_weeks or 1)
        transition(
            order,
            Status.ACTIVE,
            note=f"Number assigned; the rental runs until {ends_at:%Y-%m-%d %H:%M} UTC",
            upstream=snapshot,
            number=status.number,
            number_at=now,
            rental_ends_at=ends_at,
        )
    if order.status != Status.ACTIVE:
        return order
    if status.error:
        return refund_on_upstream_error(order, status.error, snapshot, now, RefundReason.UPSTREAM)
    if status.code and status.code != order.code:
        record_rental_sms(order, status.code, snapshot, now)
    # Ended by its terms, after this last look at sms4sats (an SMS of its final minutes is kept).
    if order.rental_ends_at and now >= order.rental_ends_at:
        transition(order, Status.ENDED, note="Rental period over", upstream=snapshot, completed_at=now)
    return order


def record_rental_sms(order, code, snapshot, now):
    """Keep a new SMS of a rental once, however many polls see it."""
    with transaction.atomic():
        _, created = RentalMessage.objects.get_or_create(order=order, code=code, defaults={"at": now})
        if not created:
            return False  # an older SMS shown again
        note = code_note("SMS received", code)
        if record_change(order, note=note, upstream=snapshot, code=code, sms_count=order.sms_count + 1):
            return True
        transaction.set_rollback(True)  # another worker changed the order first: its poll keeps the SMS
        return False


def apply_receive_status(order, status, snapshot, now):
    if order.status not in SETTLEABLE_STATUSES:
        return order
    if status.code:
        if order.status == Status.HELD and status.number:
            fields = number_fields(order, status, now)
            transition(order, Status.WAITING_CODE, note="Number assigned", upstream=snapshot, **fields)
        # After a refund too: sms4sats settles only on a code, so the buyer was charged and gets the code.
        note = "Code received; payment settled"
        if order.status == Status.REFUNDED:
            note = "sms4sats shows a code after the refund; the payment is settled"
        transition(
            order,
            Status.COMPLETED,
            note=code_note(note, status.code),
            upstream=snapshot,
            code=status.code,
            number=status.number or order.number,
            completed_at=now,
        )
        return order
    if order.status == Status.REFUNDED:
        return order
    if status.error:
        return refund_on_upstream_error(
            order, status.error, snapshot, now, refund_reason_for(order, status.number, now)
        )
    if status.number and order.status == Status.HELD:
        transition(
            order, Status.WAITING_CODE, note="Number assigned", upstream=snapshot, **number_fields(order, status, now)
        )
    # Past the automatic cancel with no code and no error: sms4sats has not said what it did with the
    # payment yet, so the order waits (the page says so) and the engine keeps asking.
    return order


def number_fields(order, status, now):
    """The fields a number's arrival sets. An Auto-Select order learns its country here: the name sms4sats gives
    in the status answer, else the one the number's dialing prefix says (the code stays 999, as ordered)."""
    fields = {"number": status.number, "number_at": now}
    if order.country_code == AUTO_SELECT:
        name = status.country or country_of_number(status.number)
        if name:
            fields["country_name"] = name[:NAME_MAX]
    return fields


def country_of_number(number):
    """The English name of the country a number (digits with their country code, no +) belongs to, or "". By its
    region (phonenumbers' core) and CLDR's name: phonenumbers' geocoder would load ~70 MB of place names into
    every process."""
    return countries.number_country_name(number, "", "en")


def refund_on_upstream_error(order, error, snapshot, now, reason):
    """sms4sats reports an error for a paid number order: its payment is returned. "No available number" says
    why; otherwise ``reason``."""
    if NO_NUMBER_MARKER in error.lower():
        reason = RefundReason.NO_NUMBER
    transition(
        order,
        Status.REFUNDED,
        note=f"Payment canceled upstream: {error}",
        upstream=snapshot,
        upstream_error=error,
        refund_reason=reason,
        refunded_at=now,
    )
    return order


def refund_reason_for(order, number, now):
    """Why sms4sats canceled a receive order's payment that we did not ask to cancel. The one documented cancel of
    an order with a number is the automatic one, AUTO_CANCEL_SECONDS after the payment; it counts unless the error
    came too early for it, even had the payment been made the moment the order was created (our paid_at is when
    we saw the payment: a poll late, or an outage late). The grace allows for the 20 minutes older clients say."""
    if order.cancel_requested_at:
        return RefundReason.CANCELED
    timeout_after = timedelta(seconds=max(settings.AUTO_CANCEL_SECONDS - settings.AUTO_CANCEL_GRACE_SECONDS, 0))
    if (number or order.number) and now >= order.created_at + timeout_after:
        return RefundReason.TIMEOUT
    return RefundReason.UPSTREAM


def apply_send_status(order, status, snapshot, now):
    sms_status = status.sms_status or ""
    sent = sms_status in SMS_SENT_STATUSES
    if order.status in SETTLEABLE_STATUSES and sent:
        transition(
            order,
            Status.COMPLETED,
            note=f"SMS {sms_status}; payment settled",
            upstream=snapshot,
            sms_status=sms_status,
            completed_at=now,
        )
        return order
    if order.status == Status.HELD:
        if sms_status == SmsStatus.FAILED or status.error:
            transition(
                order,
                Status.REFUNDED,
                note="SMS failed; payment returned",
                upstream=snapshot,
                sms_status=SmsStatus.FAILED,
                refund_reason=RefundReason.SMS_FAILED,
                upstream_error=status.error or "",
                refunded_at=now,
            )
        elif sms_status and sms_status != order.sms_status:
            record_change(order, note=f"SMS {sms_status}", upstream=snapshot, sms_status=sms_status)
        return order
    if order.status == Status.COMPLETED and sms_status and sms_status != order.sms_status:
        record_change(order, note=f"SMS {sms_status}", upstream=snapshot, sms_status=sms_status)
    return order


def record_change(order, *, note, upstream=None, **fields):
    """A change that is not a status move (the SMS went from sent to delivered): same CAS, same timeline."""
    now = timezone.now()
    fields["next_poll_at"] = _as_after(order, order.status, fields).next_poll_time(now, watched=is_watched(order))
    # Compare-and-set on the SMS status too: two polls of one order (a webhook made it due while another
    # worker was polling it) must not both record "SMS delivered".
    # Same for a cancel request: two clicks must not send two.
    expected = {
        name: getattr(order, name) for name in ("sms_status", "cancel_requested_at", "sms_count") if name in fields
    }
    with transaction.atomic(savepoint=False):  # as in transition
        changed = Order.objects.filter(pk=order.pk, status=order.status, **expected).update(updated_at=now, **fields)
        if changed:
            OrderEvent.objects.create(
                order=order, at=now, from_status=order.status, to_status=order.status, note=note, upstream=upstream
            )
            order_changed.send(Order, order=order, to_status=order.status, fields=fields, at=now)
    if changed:
        for name, value in fields.items():
            setattr(order, name, value)
        remember_status(order)
    else:
        order.refresh_from_db()
    return bool(changed)


# --- Scheduling -----------------------------------------------------------------------------
# When to ask next is Order.next_poll_time (one rule, its numbers from settings); these functions write it.


def schedule_next_poll(order, now=None):
    """Nothing changed upstream: just set when to look again."""
    schedule_next_polls([order], now)


def schedule_next_polls(orders, now=None):
    """``schedule_next_poll`` for many orders: one UPDATE per (status, next time) group, not one per order.
    An order the engine stops watching before sms4sats settled it (the reconcile horizon) is flagged for
    the operator."""
    now = now or timezone.now()
    watched = status_cache.watched(o.public_id for o in orders)
    groups = {}
    for order in orders:
        order.next_poll_at = order.next_poll_time(now, watched=order.public_id in watched)
        abandoned = order.next_poll_at is None and order.status not in TERMINAL_STATUSES
        groups.setdefault((order.status, order.next_poll_at, abandoned), []).append(order.pk)
    for (status, next_poll_at, abandoned), pks in groups.items():
        fields = {"next_poll_at": next_poll_at, "last_polled_at": now, "poll_failures": 0}
        if abandoned:
            fields["reconcile_abandoned_at"] = now
            log.warning("Stopped asking sms4sats about %d unsettled order(s) past the horizon", len(pks))
        Order.objects.filter(pk__in=pks, status=status).update(**fields)
    for order in orders:
        if not order.is_live:  # the engine stopped watching a final order: so does its page
            remember_status(order)


def back_off(order, error, now=None):
    """sms4sats answered about this one order with something we cannot use (refused, malformed): look again
    later, without slowing the others. Outages are not per order: see upstream_health."""
    now = now or timezone.now()
    failures = order.poll_failures + 1
    delay = min(settings.POLL_FAST_SECONDS * 2 ** min(failures, 6), settings.POLL_MAX_BACKOFF_SECONDS)
    Order.objects.filter(pk=order.pk).update(
        next_poll_at=now + timedelta(seconds=delay), last_polled_at=now, poll_failures=failures
    )
    log.warning("Polling order %s failed (%s); next try in %ss", order.public_id, error, delay)


def refresh(order, client=None):
    """Ask sms4sats about one order now and apply what it says, from any state it can still change (the
    admin's "refresh")."""
    if not order.upstream_id or order.status in CREATION_STATUSES or order.status == Status.FAILED:
        return order
    client = client or get_client()
    try:
        status = client.order_status(order.upstream_id)
    except UpstreamUnavailable:
        return order  # nothing learned; the engine keeps asking on its schedule
    except Sms4satsError as exc:
        back_off(order, exc.reason)
        return order
    apply_status(order, status)
    if order.next_poll_at and Order.objects.filter(pk=order.pk, next_poll_at__lt=timezone.now()).exists():
        schedule_next_poll(order)
    return order


def make_due(order):
    """A hint (webhook) that something changed: poll this order at the next cycle."""
    if not order.is_terminal or order.next_poll_at:
        Order.objects.filter(pk=order.pk).update(next_poll_at=timezone.now())


def make_all_due(now=None):
    """sms4sats answers again after an outage: every order the engine watches is due at once."""
    now = now or timezone.now()
    return Order.objects.watched_by_engine().filter(next_poll_at__gt=now).update(next_poll_at=now)


# --- Cancel ---------------------------------------------------------------------------------


BUYER = "the buyer"


def request_cancel(order, by=BUYER):
    """Ask sms4sats to cancel a paid, code-less order (the rule: Order.cancel_refusal); ``by``: who asked, as the
    timeline names them (the buyer, or a staff user's name: the operator's rules)."""
    now = timezone.now()
    refusal = order.cancel_refusal(now, by="buyer" if by == BUYER else "operator")
    if refusal:
        raise CancelRefused(refusal)
    if not record_change(order, note=f"Cancel requested by {by}", cancel_requested_at=now):
        raise CancelRefused(gettext("This order changed meanwhile; please look again."))
    # robust: if the broker is down the request is lost, but sms4sats cancels by itself at ~21 minutes.
    enqueue_on_commit(CANCEL_TASK, order.pk)


def cancel_upstream(order_id, client=None):
    """The worker's half of a cancel: refunded only once sms4sats confirms."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.status not in HOLDING_STATUSES:
        return order
    client = client or get_client()
    try:
        client.cancel_order(order.upstream_id)
    except UpstreamRejected as exc:
        # Refused (for example too early by sms4sats' clock): the buyer may ask again.
        record_change(order, note=f"sms4sats refused the cancel: {exc.reason}", cancel_requested_at=None)
        refresh(order, client)
        return order
    transition(
        order,
        Status.REFUNDED,
        note="Canceled; payment returned",
        upstream={"status": "OK"},
        refund_reason=RefundReason.CANCELED,
        refunded_at=timezone.now(),
    )
    return order
