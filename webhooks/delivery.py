"""Sending deliveries: claim an attempt, POST the signed body, log what came back, schedule the retry.

Robust across worker restarts: a delivery is a row that is due (``next_attempt_at``) until it is delivered or
given up, and the beat sweep (``enqueue_due``) hands due ones to workers. Each attempt is claimed by a
conditional UPDATE on the attempt count, so two workers (the task enqueued on commit and the sweep's) never
send the same attempt; the claim pushes the due time ahead by a lease, after which an attempt whose worker died
is tried again. Receivers may thus see an event twice (at least once): they deduplicate by ``Webhook-Id``.
"""

import hashlib
import hmac
import logging
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from sms4sats_site import outbound

from .events import DELIVER_TASK, enqueue_deliveries
from .models import Attempt, Delivery, Endpoint, Event

log = logging.getLogger(__name__)

USER_AGENT = "sms4sats-shop-webhooks/1"
# Longer than any one attempt can take (the whole POST is bounded by the timeout).
LEASE_MARGIN_SECONDS = 30


class RedeliverRefused(Exception):
    """The delivery cannot be sent again now; the message says why."""


def signature(secret, timestamp, body):
    """The v1 signature: hex HMAC-SHA256 of "<timestamp>.<body>" with the endpoint's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def signed_headers(delivery, timestamp):
    """One v1 signature per secret the endpoint signs with (two while a rotation overlaps: new, then old), as
    Stripe does: a receiver with either secret verifies (docs/integrating.md)."""
    body = delivery.event.body
    signatures = ",".join(f"v1={signature(secret, timestamp, body)}" for secret in delivery.endpoint.signing_secrets())
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": str(delivery.event.public_id),
        "Webhook-Signature": f"t={timestamp},{signatures}",
    }


def claim(delivery_id, now):
    """Take the next attempt of a due delivery, or None when it is not due, done, paused, or taken by another
    worker."""
    delivery = Delivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != Delivery.State.PENDING or not delivery.endpoint.active:
        return None
    if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return None
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    won = Delivery.objects.filter(
        pk=delivery.pk, state=Delivery.State.PENDING, attempts=delivery.attempts, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease)
    if not won:
        return None
    delivery.attempts += 1
    return delivery


def attempt(delivery_id):
    """One attempt of a delivery, if it is due and this worker wins the claim. Returns the Attempt or None."""
    delivery = claim(delivery_id, timezone.now())
    if delivery is None:
        return None
    started = timezone.now()
    status_code, excerpt, error, duration_ms = post(delivery, int(started.timestamp()))
    succeeded = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not succeeded and not error:
        error = f"HTTP {status_code}"
        if 300 <= status_code < 400:
            error += " (a redirect: not followed)"
    return finish(delivery, started, status_code, excerpt, error, duration_ms, succeeded)


def post(delivery, timestamp):
    """POST the signed body; (status code or None, response snippet, error, milliseconds). Never raises: the
    receiver's problems are logged on the delivery, never the worker's. The endpoint's URL is an admin's text:
    checked again here, after DNS (the address may have changed since it was saved)."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    limit = settings.WEBHOOK_RESPONSE_EXCERPT_BYTES
    start = time.monotonic()
    status_code, excerpt, error = None, "", ""
    try:
        answer = outbound.post(
            delivery.endpoint.url,
            timeout=timeout,
            max_bytes=limit,
            truncate=True,  # only the start of the answer is read: the rest is the receiver's business
            user_target=True,
            content=delivery.event.body.encode(),
            headers=signed_headers(delivery, timestamp),
        )
        status_code, excerpt = answer.status_code, outbound.snippet(answer.body, limit)
    except outbound.OutboundError as exc:  # timeouts, refused connections or addresses, TLS: the receiver's
        error = outbound.snippet(exc.reason, 500)
    duration_ms = int((time.monotonic() - start) * 1000)
    return status_code, excerpt, error, duration_ms


def finish(delivery, at, status_code, excerpt, error, duration_ms, succeeded):
    """Log the attempt and decide: delivered, retry later, or give up after the last delay."""
    done_at = timezone.now()
    delays = settings.WEBHOOK_RETRY_DELAYS
    mine = Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts, state=Delivery.State.PENDING)
    with transaction.atomic():
        logged = Attempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=at,
            duration_ms=duration_ms,
            status_code=status_code,
            response_excerpt=excerpt,
            error=error,
            succeeded=succeeded,
        )
        if succeeded:
            mine.update(state=Delivery.State.DELIVERED, delivered_at=done_at, next_attempt_at=None)
        elif delivery.attempts > len(delays):
            mine.update(state=Delivery.State.FAILED, next_attempt_at=None)
            log.warning(
                "Webhook delivery %s to %s given up after %d attempts",
                delivery.pk,
                delivery.endpoint.url,
                delivery.attempts,
            )
        else:
            retry_at = done_at + timedelta(seconds=delays[delivery.attempts - 1])
            mine.update(next_attempt_at=retry_at)
            if status_code is None:
                # Unreachable or timing out: the endpoint's other waiting deliveries wait as long, so a dead
                # receiver costs the workers one timeout per retry step, not one per event.
                Delivery.objects.filter(
                    endpoint=delivery.endpoint_id, state=Delivery.State.PENDING, next_attempt_at__lt=retry_at
                ).exclude(pk=delivery.pk).update(next_attempt_at=retry_at)
    return logged


def enqueue_due(now=None, limit=500):
    """The beat sweep: hand every due delivery of an active endpoint to a worker. A delivery already queued
    may be queued twice; the claim sends it once."""
    now = now or timezone.now()
    due = (
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now, endpoint__active=True)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(due)
    for pk in ids:
        current_app.send_task(DELIVER_TASK, args=[pk])
    return len(ids)


def redeliver(delivery):
    """Send a delivery's event to its endpoint again: a new delivery (its own attempts and log), same event id
    and body, signed with the endpoint's current secret."""
    if not delivery.endpoint.active:
        raise RedeliverRefused("its endpoint is inactive")
    with transaction.atomic():
        again = Delivery.objects.create(
            event=delivery.event, endpoint=delivery.endpoint, next_attempt_at=timezone.now()
        )
        enqueue_deliveries([again])
    return again


# An endpoint "keeps failing" once a delivery to it failed this many attempts in a row (about 3.5 minutes with
# the retry delays), or was given up, and nothing reached it since.
FAILING_AFTER_ATTEMPTS = 3


def failing_endpoints():
    """The active endpoints whose deliveries keep failing: [(endpoint, last error)], by URL. An endpoint clears
    when any delivery to it succeeds (a retry, a redelivery, a test event) or when it is made inactive."""
    bad = (
        Attempt.objects.filter(succeeded=False, delivery__endpoint__active=True)
        .filter(Q(number__gte=FAILING_AFTER_ATTEMPTS) | Q(delivery__state=Delivery.State.FAILED))
        .values("delivery__endpoint")
        .annotate(at=Max("at"))
    )
    last_bad = {row["delivery__endpoint"]: row["at"] for row in bad}
    good = Attempt.objects.filter(succeeded=True, delivery__endpoint__in=list(last_bad))
    last_ok = {row["delivery__endpoint"]: row["at"] for row in good.values("delivery__endpoint").annotate(at=Max("at"))}
    failing = [pk for pk, at in last_bad.items() if pk not in last_ok or last_ok[pk] < at]
    result = []
    for endpoint in Endpoint.objects.filter(pk__in=failing).order_by("url", "id"):
        last = Attempt.objects.filter(delivery__endpoint=endpoint, succeeded=False).order_by("-at", "-id").first()
        result.append((endpoint, last.error or f"HTTP {last.status_code}"))
    return result


def purge_log(older_than_days, now=None, batch=1000):
    """Forget events older than ``older_than_days``, with their deliveries and attempts, except events still
    being delivered. In batches, so no transaction holds a large delete. Returns how many events went."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    old = Event.objects.filter(created_at__lt=cutoff).exclude(deliveries__state=Delivery.State.PENDING)
    removed = 0
    while batch_ids := list(old.values_list("pk", flat=True)[:batch]):
        _, per_model = Event.objects.filter(pk__in=batch_ids).delete()
        removed += per_model.get(Event._meta.label, 0)
    return removed
