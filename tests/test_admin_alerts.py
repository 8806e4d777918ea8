"""The admin's alert log (read-only) and its "Send a test alert" button (POST, CSRF, staff only), delivered by a
real worker to a real local JSON receiver."""

import time

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from alerts.models import AlertLog, Event, Result

LOG_URL = "admin:alerts_alertlog_changelist"
TEST_URL = "admin:alerts_alertlog_test"


@pytest.fixture
def alerts_to(settings, json_receiver):
    settings.ALERT_URLS = f"json://127.0.0.1:{json_receiver.port}/alerts"
    return json_receiver


def wait_for_outcome(seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        entry = AlertLog.objects.filter(event=Event.TEST).first()
        if entry and entry.result != Result.QUEUED:
            return entry
        time.sleep(0.1)
    raise AssertionError("the test alert was not delivered")


def test_the_button_sends_through_the_worker_and_the_log_shows_it(admin_client, alerts_to, celery_worker):
    page = admin_client.get(reverse(LOG_URL)).content.decode()
    assert 'id="send-test-alert"' in page and "Alerts go to 1 target" in page and "disabled" not in page

    answer = admin_client.post(reverse(TEST_URL), follow=True)
    assert answer.redirect_chain == [(reverse(LOG_URL), 302)]
    assert "Test alert queued for 1 target" in answer.content.decode()

    entry = wait_for_outcome()
    assert entry.result == Result.SENT and entry.delivered == 1 and entry.targets == 1
    [post] = alerts_to.wait_for_posts(1)
    assert post.json()["title"] == "Test alert from the sms4sats shop"
    assert "Sent from the admin by admin" in post.json()["message"]

    page = admin_client.get(reverse(LOG_URL)).content.decode()
    assert "Test alert from the sms4sats shop" in page and "sent: 1 of 1 targets, 1 attempt<" in page


def test_a_failed_test_alert_shows_the_error(admin_client, settings, db, django_capture_on_commit_callbacks):
    settings.ALERT_URLS = "json://127.0.0.1:9/alerts"  # nothing listens
    from alerts import delivery

    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse(TEST_URL))
    entry = AlertLog.objects.get()
    logged = LogEntry.objects.get(object_id=str(entry.pk))  # the audit trail: who sent it
    assert (logged.user.username, logged.change_message) == ("admin", "Sent a test alert")
    delivery.deliver(entry.pk)  # what the worker's last attempt does
    page = admin_client.get(reverse(LOG_URL)).content.decode()
    assert "failed: 0 of 1 targets, 1 attempt<" in page and "target 1: A Connection error occurred" in page


def test_get_is_refused(admin_client, alerts_to):
    assert admin_client.get(reverse(TEST_URL)).status_code == 405
    assert AlertLog.objects.count() == 0


def test_csrf_is_checked(alerts_to, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse(TEST_URL)).status_code == 403
    assert AlertLog.objects.count() == 0


def test_staff_only(client, alerts_to, db):
    User.objects.create_user("buyer", password="pw-long-enough-1")
    client.login(username="buyer", password="pw-long-enough-1")
    answer = client.post(reverse(TEST_URL))
    assert answer.status_code == 302 and "/login/" in answer["Location"]
    assert AlertLog.objects.count() == 0


def test_staff_without_the_log_permission_is_refused(client, alerts_to, db):
    User.objects.create_user("helper", password="pw-long-enough-1", is_staff=True)
    client.login(username="helper", password="pw-long-enough-1")
    assert client.post(reverse(TEST_URL)).status_code == 403
    assert AlertLog.objects.count() == 0


def test_with_alerts_off_the_button_explains(admin_client, settings, db):
    settings.ALERT_URLS = ""
    page = admin_client.get(reverse(LOG_URL)).content.decode()
    assert "Alerts are off: ALERT_URLS is empty" in page and "disabled" in page
    answer = admin_client.post(reverse(TEST_URL), follow=True)
    assert "ALERT_URLS is empty: there is nowhere to send an alert" in answer.content.decode()
    assert AlertLog.objects.count() == 0


def test_the_log_is_read_only(admin_client, db):
    entry = AlertLog.objects.create(event=Event.TEST, title="t", targets=1)
    assert admin_client.get(reverse("admin:alerts_alertlog_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:alerts_alertlog_change", args=[entry.pk]), {"title": "x"}).status_code == 403
    )
    entry.refresh_from_db()
    assert entry.title == "t"
    assert (
        admin_client.post(reverse("admin:alerts_alertlog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert AlertLog.objects.filter(pk=entry.pk).exists()
