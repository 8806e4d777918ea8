"""No false alarms after a start (#27): the workers started after a long stop, with the last run's heartbeats
hours old in Redis, send no "not running" alert while they have not had their chance to beat; the referral
address is checked at start; webhook deliveries that keep failing alert once and clear once, and show in
/metrics; the alert log is purged like the webhook log."""

import time
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from alerts import checks, delivery, tasks
from alerts.models import AlertLog, Event, Result
from orders.process_health import CREATOR, WORKER
from sms4sats_site import celery as shop_celery
from sms4sats_site.shared_redis import shared_key, shared_redis
from tests.test_alerts import json_url


def long_stop(hours=3):
    """What a run stopped hours ago leaves in Redis: both heartbeats old, and the "stale" each worker saw as the
    other one stopped, pending since then."""
    then = time.time() - hours * 3600
    cache.set(WORKER, then, timeout=None)
    cache.set(CREATOR, then, timeout=None)
    for name in ("worker", "creator"):
        shared_redis().set(checks._pending_key(name), then + 30)


def test_workers_started_after_a_long_stop_send_no_alert(settings, json_receiver, transactional_db, request):
    """The engine's start as after a reboot: real workers (in-process, on the real Redis broker) start, run the
    heartbeat checks beat runs every minute, and nothing reaches the local alert receiver."""
    settings.ALERT_URLS = json_url(json_receiver)
    settings.ALERT_HOLD_SECONDS = 60  # the production hysteresis: the pending "stale" from before the stop is old
    settings.WORKER_START_GRACE_SECONDS = 60
    long_stop()
    request.getfixturevalue("celery_worker")  # starts the worker: Celery's worker_init records the start
    tasks.check_main_worker.delay()  # on the creator queue, as beat routes it
    tasks.check_conditions.delay()  # the minute's checks, the creator's heartbeat among them
    time.sleep(3)
    assert json_receiver.posts == [] and AlertLog.objects.count() == 0

    # The grace is over and the workers still have not beaten: now that is an alert (once the hold has passed).
    later = time.time() + 61
    checks.clock = lambda: later
    try:
        assert checks.check_main_worker() is None  # pending from now, not from before the stop
        later += 61
        assert checks.check_main_worker() == Event.WORKER_STALE
    finally:
        checks.clock = time.time


def test_the_start_is_recorded_by_celery_signals(settings, db):
    shared_redis().delete(shared_key(checks.STARTED_KEY))
    settings.WORKER_START_GRACE_SECONDS = 60
    assert not checks.starting()
    shop_celery.record_start()
    assert checks.starting()


def test_a_worker_stale_after_its_grace_alerts(settings, db, json_receiver):
    settings.ALERT_URLS = json_url(json_receiver)
    settings.WORKER_START_GRACE_SECONDS = 60
    long_stop()
    checks.record_start()
    assert checks.check_creator_worker() is None
    settings.WORKER_START_GRACE_SECONDS = 0
    assert checks.check_creator_worker() == Event.CREATOR_STALE


def test_beat_start_checks_the_referral_address(monkeypatch):
    sent = []
    monkeypatch.setattr(shop_celery.app, "send_task", lambda name, **kw: sent.append(name))
    from celery.signals import beat_init

    beat_init.send(sender=None)
    assert "alerts.tasks.check_referral" in sent


# --- Webhook deliveries that keep failing -----------------------------------------------------------------


def failed_attempts(endpoint, count, state=None):
    from webhooks.models import Attempt, Delivery
    from webhooks.models import Event as WebhookEvent

    event = WebhookEvent.objects.create(type="order.completed", body="{}")
    d = Delivery.objects.create(event=event, endpoint=endpoint, attempts=count, state=state or Delivery.State.PENDING)
    for number in range(1, count + 1):
        Attempt.objects.create(delivery=d, number=number, status_code=500, error="HTTP 500")
    return d


def test_webhooks_failing_alert_once_and_clear_once(settings, db, json_receiver, client, admin_user):
    from webhooks.models import Attempt, Delivery, Endpoint

    settings.ALERT_URLS = json_url(json_receiver)
    settings.METRICS_TOKEN = "t" * 32
    endpoint = Endpoint.objects.create(url="https://receiver.example/hook", events=["order.completed"])
    failed_attempts(endpoint, 2)
    assert checks.check_webhooks() is None  # two failures: retried, not yet "keeps failing"
    failed = failed_attempts(endpoint, 8, Delivery.State.FAILED)  # given up
    assert checks.check_webhooks() == Event.WEBHOOKS_FAILING
    assert checks.check_webhooks() is None  # once
    entry = AlertLog.objects.get()
    assert "receiver.example" in entry.body and "HTTP 500" in entry.body

    scrape = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32).content.decode()
    assert 'sms4sats_shop_webhook_deliveries{state="failed"} 1.0' in scrape
    assert "sms4sats_shop_webhook_endpoints_failing 1.0" in scrape

    Attempt.objects.create(delivery=failed, number=9, status_code=200, succeeded=True)  # a redelivery got through
    assert checks.check_webhooks() == Event.WEBHOOKS_OK
    assert checks.check_webhooks() is None
    scrape = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32).content.decode()
    assert "sms4sats_shop_webhook_endpoints_failing 0.0" in scrape


def test_the_alert_log_is_purged_after_its_retention(db):
    now = timezone.now()
    old = AlertLog.objects.create(
        event=Event.TEST, title="old", result=Result.SENT, created_at=now - timedelta(days=31)
    )
    AlertLog.objects.create(event=Event.TEST, title="old, still sending", created_at=now - timedelta(days=31))
    AlertLog.objects.create(event=Event.TEST, title="recent", result=Result.SENT, created_at=now - timedelta(days=29))
    assert delivery.purge_log(30, now=now) == 1
    assert not AlertLog.objects.filter(pk=old.pk).exists() and AlertLog.objects.count() == 2
    assert "alerts.tasks.purge_log" in {entry["task"] for entry in settings_schedule().values()}


def settings_schedule():
    from django.conf import settings

    return settings.CELERY_BEAT_SCHEDULE
