"""Alerts end to end: raised by the checks, delivered by a real Celery worker through Apprise to a real local SMTP
server (mailto://) and a real local JSON receiver (json://); one alert per condition's start and clear."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import checks as django_checks
from django.utils import timezone

from alerts import checks, delivery, tasks
from alerts.models import AlertLog, Event, Result
from orders import process_health
from orders.models import Status
from orders.process_health import record_heartbeat
from orders.sms4sats import upstream_health
from sms4sats_site.shared_redis import shared_redis
from tests.factories import make_order
from tests.local_servers import LocalHttpServer
from tests.waiting import worker_idle


def json_url(server, path="/alerts", auth=""):
    return f"json://{auth}127.0.0.1:{server.port}{path}"


def mailto_url(smtp):
    return f"mailto://127.0.0.1:{smtp.port}?from=shop@example.com&to=operator@example.com&mode=insecure"


@pytest.fixture
def alert_to_json(settings, json_receiver):
    settings.ALERT_URLS = json_url(json_receiver)
    return json_receiver


@pytest.fixture(autouse=True)
def _fresh_upstream_state():
    upstream_health._last_clean["at"] = 0.0
    yield
    upstream_health._last_clean["at"] = 0.0


def wait_for_result(entry, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        entry.refresh_from_db()
        if entry.result in (Result.SENT, Result.FAILED):
            return entry
        time.sleep(0.1)
    raise AssertionError(f"alert still {entry.result} after {seconds} s: {entry.error}")


def events():
    return list(AlertLog.objects.order_by("created_at", "pk").values_list("event", flat=True))


# --- Delivery through a real worker to real local receivers ---------------------------------------------


def test_an_alert_reaches_smtp_and_json_through_the_worker(settings, celery_worker, smtp_receiver, json_receiver):
    settings.ALERT_URLS = f"{mailto_url(smtp_receiver)}, {json_url(json_receiver)}"
    entry = delivery.raise_alert(Event.UPSTREAM_DOWN, "sms4sats is not answering", "3 failed calls in a row")
    assert entry.targets == 2 and entry.result == Result.QUEUED

    entry = wait_for_result(entry)
    assert entry.result == Result.SENT and entry.delivered == 2 and entry.attempts == 1 and entry.error == ""
    [mail] = smtp_receiver.wait_for_messages(1)
    assert mail["Subject"] == "sms4sats is not answering" and mail["To"] == "operator@example.com"
    assert "3 failed calls in a row" in mail.get_body(("plain", "html")).get_content()
    [post] = json_receiver.wait_for_posts(1)
    assert post.path == "/alerts"
    assert post.json()["title"] == "sms4sats is not answering"
    assert post.json()["message"] == "3 failed calls in a row"
    assert post.json()["type"] == "failure"


def test_a_failing_target_is_retried_by_the_worker(settings, celery_worker, monkeypatch):
    monkeypatch.setattr(tasks, "RETRY_BASE_SECONDS", 0.2)
    with LocalHttpServer(post_statuses=[500, 503]) as receiver:
        settings.ALERT_URLS = json_url(receiver)
        entry = wait_for_result(delivery.raise_alert(Event.TEST, "Test alert", "hello"))
        assert entry.result == Result.SENT and entry.attempts == 3 and entry.delivered == 1
        assert len(receiver.posts) == 3


def test_a_retry_goes_only_to_the_targets_that_failed(settings, db):
    with LocalHttpServer(post_statuses=[500]) as broken, LocalHttpServer() as working:
        settings.ALERT_URLS = f"{json_url(broken, auth='shop:s3cret-pass@')} {json_url(working)}"
        entry = delivery.raise_alert(Event.TEST, "Test alert", "hello")

        assert delivery.deliver(entry.pk, last_attempt=False) == [0]
        entry.refresh_from_db()
        assert entry.result == Result.RETRYING and entry.delivered == 1 and entry.finished_at is None
        assert entry.error.startswith("target 1: ") and "500" in entry.error
        assert "s3cret-pass" not in entry.error  # the URLs' secrets never reach the log

        assert delivery.deliver(entry.pk, pending=[0], attempt=1) == []
        entry.refresh_from_db()
        assert entry.result == Result.SENT and entry.delivered == 2 and entry.attempts == 2 and entry.error == ""
        assert len(broken.posts) == 2 and len(working.posts) == 1


def test_gives_up_after_the_last_attempt(settings, db):
    with LocalHttpServer(post_statuses=[500]) as broken:
        settings.ALERT_URLS = json_url(broken)
        entry = delivery.raise_alert(Event.TEST, "Test alert", "hello")
        assert delivery.deliver(entry.pk, last_attempt=True) == [0]
        entry.refresh_from_db()
        assert entry.result == Result.FAILED and entry.finished_at is not None and entry.delivered == 0


def test_nothing_is_raised_when_alerts_are_off(settings, db):
    settings.ALERT_URLS = ""
    settings.CREATION_LAG_MAX_SECONDS = 60
    assert delivery.raise_alert(Event.TEST, "Test alert", "hello") is None
    make_order(status=Status.NEW, created_at=timezone.now() - timedelta(seconds=90))
    assert checks.check_creation_lag() == Event.CREATION_LAGGING  # the condition is tracked, nothing is sent
    assert AlertLog.objects.count() == 0


def test_the_system_check_names_a_target_apprise_does_not_understand(settings):
    settings.ALERT_URLS = "json://127.0.0.1:9/x nosuchservice://secret-token@host"
    warnings = [w for w in django_checks.run_checks() if w.id == "alerts.W001"]
    assert len(warnings) == 1 and "target 2" in warnings[0].msg and "secret-token" not in warnings[0].msg


# --- De-duplication -------------------------------------------------------------------------------------


def test_one_alert_per_outage_and_one_when_it_ends(settings, celery_worker, alert_to_json):
    """sms4sats goes down: the transition enqueues the check, the worker sends "down"; the periodic check runs twice
    during the outage and sends nothing more; sms4sats answers again: one "back up", again from the transition."""
    settings.UPSTREAM_DOWN_AFTER_FAILURES = 3
    for _ in range(6):
        upstream_health.record(False, "orderstatus: unreachable")
    [down] = alert_to_json.wait_for_posts(1)  # nothing but the transition's task could have sent it
    assert down.json()["title"] == "sms4sats is not answering"
    assert "orderstatus: unreachable" in down.json()["message"]
    assert checks.check_upstream() is None
    assert checks.check_upstream() is None

    upstream_health.record(True)
    posts = alert_to_json.wait_for_posts(2)
    assert checks.check_upstream() is None
    worker_idle()  # anything more would have arrived now: the worker sends them
    assert [p.json()["title"] for p in posts] == ["sms4sats is not answering", "sms4sats answers again"]
    assert events() == [Event.UPSTREAM_DOWN, Event.UPSTREAM_UP]


def test_the_periodic_check_catches_a_lost_transition(settings, db, alert_to_json):
    settings.ALERT_URLS = ""  # the transition enqueues nothing, as if its task were lost
    settings.UPSTREAM_DOWN_AFTER_FAILURES = 1
    upstream_health.record(False, "createorder: 502")
    settings.ALERT_URLS = f"json://127.0.0.1:{alert_to_json.port}/alerts"
    assert checks.check_upstream() == Event.UPSTREAM_DOWN


def test_two_workers_checking_at_once_send_one_alert(settings, transactional_db, alert_to_json):
    start = threading.Barrier(4)

    def check():
        start.wait()
        checks.update("creation", True, "Orders wait to be created at sms4sats")

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert events() == [Event.CREATION_LAGGING]
    assert shared_redis().exists(checks.condition_key("creation"))


def test_a_condition_that_never_started_sends_no_clear(settings, db, alert_to_json):
    assert checks.update("refunds", False, "Refunds are back under the threshold") is None
    assert AlertLog.objects.count() == 0


# --- Each condition ---------------------------------------------------------------------------------------


def test_the_creator_alerts_that_the_main_worker_is_stale(
    settings, db, alert_to_json, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(delivery.current_app, "send_task", lambda name, **kw: sent.append((name, kw["queue"])))
    with django_capture_on_commit_callbacks(execute=True):
        assert checks.check_main_worker() == Event.WORKER_STALE  # no heartbeat at all
    assert sent == [(delivery.DELIVER_TASK, settings.CELERY_CREATE_QUEUE)]  # delivered by the creator itself
    assert checks.check_main_worker() is None
    record_heartbeat()
    assert checks.check_main_worker() == Event.WORKER_BACK


def test_the_main_worker_alerts_that_the_creator_is_stale(settings, db, alert_to_json):
    settings.HEARTBEAT_MAX_AGE = 45
    record_heartbeat(process_health.CREATOR)
    assert checks.check_creator_worker() is None
    from django.core.cache import cache

    cache.set(process_health.CREATOR, time.time() - 60, timeout=None)
    assert checks.check_creator_worker() == Event.CREATOR_STALE
    entry = AlertLog.objects.get()
    assert entry.title == "The creator worker (order creation) is not running" and "60 s ago" in entry.body


def test_the_worker_checks_run_on_the_real_workers(settings, celery_worker, alert_to_json):
    """Beat's tasks as routed: the main worker's heartbeat checked on the creator queue, and back."""
    tasks.check_main_worker.delay()
    [stale] = alert_to_json.wait_for_posts(1)
    assert stale.json()["title"] == "The main worker (polling) is not running"
    record_heartbeat()
    tasks.creator_heartbeat.delay()
    tasks.check_main_worker.delay()
    posts = alert_to_json.wait_for_posts(2)
    assert posts[1].json()["title"] == "The main worker (polling) runs again"


def test_creation_lag(settings, db, alert_to_json):
    settings.CREATION_LAG_MAX_SECONDS = 60
    order = make_order(status=Status.NEW, created_at=timezone.now() - timedelta(seconds=90))
    assert checks.check_creation_lag() == Event.CREATION_LAGGING
    assert checks.check_creation_lag() is None
    order.status = Status.FAILED
    order.save()
    assert checks.check_creation_lag() == Event.CREATION_CAUGHT_UP
    assert "The oldest has waited 9" in AlertLog.objects.get(event=Event.CREATION_LAGGING).body


def test_refunds_over_the_threshold_in_an_hour(settings, db, alert_to_json):
    settings.ALERT_REFUNDS_PER_HOUR = 3
    now = timezone.now()
    for minutes in (5, 20, 90):  # the last one is outside the hour
        make_order(status=Status.REFUNDED, refunded_at=now - timedelta(minutes=minutes))
    assert checks.check_refunds() is None
    make_order(status=Status.REFUNDED, refunded_at=now - timedelta(minutes=1))
    assert checks.check_refunds() == Event.REFUNDS_HIGH
    assert AlertLog.objects.get().title == "3 refunds in the last hour"
    assert checks.check_refunds(now=now + timedelta(minutes=50)) == Event.REFUNDS_NORMAL  # 2 left in its hour


def test_refund_alert_off_at_zero(settings, db, alert_to_json):
    settings.ALERT_REFUNDS_PER_HOUR = 0
    make_order(status=Status.REFUNDED, refunded_at=timezone.now())
    assert checks.check_refunds() is None and AlertLog.objects.count() == 0


def test_prepaid_balance_under_the_threshold(settings, sandbox_url, alert_to_json):
    """The sandbox's account (0 sats), asked as the admin's account page asks."""
    settings.ALERT_BALANCE_MIN_SATS = 1000
    assert checks.check_balance() == Event.BALANCE_LOW
    assert AlertLog.objects.get().title == "Prepaid balance low: 0 sats"
    settings.ALERT_BALANCE_MIN_SATS = 0
    assert checks.check_balance() is None  # off


def test_balance_not_asked_when_sms4sats_cannot_say(settings, db, alert_to_json):
    settings.ALERT_BALANCE_MIN_SATS = 1000
    settings.SMS4SATS_API_URL = "http://127.0.0.1:9/api"  # nothing listens
    settings.SMS4SATS_TIMEOUT = 1
    assert checks.check_balance() is None and AlertLog.objects.count() == 0


def test_the_daily_summary_once_a_day(settings, db, alert_to_json):
    settings.ALERT_DAILY_SUMMARY = True
    settings.ALERT_DAILY_SUMMARY_HOUR = 8
    settings.SMS4SATS_REF = "operator@example.com"
    morning = timezone.now().replace(hour=8, minute=5)
    make_order(status=Status.COMPLETED, invoice_sats=3000, created_at=morning - timedelta(hours=2))
    make_order(status=Status.COMPLETED, invoice_sats=2000, created_at=morning - timedelta(hours=3))
    make_order(status=Status.UNPAID, created_at=morning - timedelta(hours=1))
    make_order(status=Status.COMPLETED, invoice_sats=9000, created_at=morning - timedelta(days=2))

    assert checks.daily_summary(morning - timedelta(hours=1)) is None  # not its hour
    entry = checks.daily_summary(morning)
    assert entry.event == Event.DAILY_SUMMARY
    assert (
        "3 orders" in entry.body and "2 completed" in entry.body and "charged 5,000 sats paid by buyers" in entry.body
    )
    assert "referral earned: 500 sats" in entry.body
    assert checks.daily_summary(morning + timedelta(minutes=15)) is None  # already sent today
    settings.ALERT_DAILY_SUMMARY = False
    assert checks.daily_summary(morning + timedelta(days=1)) is None


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"ALERT_REFUNDS_PER_HOUR": "many"}, "ALERT_REFUNDS_PER_HOUR"),
        ({"ALERT_BALANCE_MIN_SATS": "-5"}, "ALERT_BALANCE_MIN_SATS"),
        ({"ALERT_DAILY_SUMMARY_HOUR": "24"}, "ALERT_DAILY_SUMMARY_HOUR"),
        (
            {"SMS4SATS_API_URL": "https://api2.sms4sats.com", "SECRET_KEY": "k" * 50, "REFERRAL_ALLOW_HTTP": "on"},
            "REFERRAL_ALLOW_HTTP",
        ),
    ],
)
def test_alert_settings_fail_in_one_line(overrides, variable):
    from tests.test_settings import start

    result = start(overrides)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"Configuration error: {variable}:")


def test_an_alert_that_cannot_be_logged_is_tried_again_at_the_next_check(settings, db, alert_to_json, monkeypatch):
    def database_away(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(AlertLog.objects, "create", database_away)
    with pytest.raises(RuntimeError):
        checks.update("creation", True, "Orders wait to be created at sms4sats")
    assert not shared_redis().exists(checks.condition_key("creation"))  # the claim was given back
    monkeypatch.undo()
    assert checks.update("creation", True, "Orders wait to be created at sms4sats") == Event.CREATION_LAGGING


def test_one_failing_check_does_not_skip_the_others(settings, db, alert_to_json, monkeypatch):
    settings.ALERT_REFUNDS_PER_HOUR = 1
    make_order(status=Status.REFUNDED, refunded_at=timezone.now())
    monkeypatch.setattr(checks, "check_creation_lag", lambda: 1 / 0)
    tasks.check_conditions()
    assert Event.REFUNDS_HIGH in events()


def test_an_attempt_is_made_once_however_often_its_task_runs(settings, db, alert_to_json):
    entry = delivery.raise_alert(Event.TEST, "Test alert", "hello")
    assert delivery.deliver(entry.pk) == []
    assert delivery.deliver(entry.pk) == []  # the same first attempt again (a task enqueued twice)
    entry.refresh_from_db()
    assert entry.attempts == 1 and entry.delivered == 1
    assert len(alert_to_json.posts) == 1


def test_an_alert_whose_task_was_lost_is_sent_later(settings, celery_worker, alert_to_json):
    """The broker was away when it was raised: the row waits "queued"; the minute's check enqueues it again."""
    entry = AlertLog.objects.create(event=Event.TEST, title="Lost test alert", targets=1)
    assert delivery.resend_lost() == 0  # too young to be taken for lost
    AlertLog.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert delivery.resend_lost() == 1
    assert wait_for_result(entry).result == Result.SENT
    [post] = alert_to_json.wait_for_posts(1)
    assert post.json()["title"] == "Lost test alert"
    assert delivery.resend_lost() == 0
