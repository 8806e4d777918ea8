"""Notifications per event (#27, like BTCPay's e-mail rules): the operator's rules send chosen events (order
completed, refunded, rental SMS received, balance low…) to chosen Apprise targets, through the alerts' delivery
(a real worker, real local JSON and SMTP receivers), test-sendable from the admin."""

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts import delivery
from alerts.models import AlertLog, Event, NotificationRule, Result
from orders import lifecycle
from orders.models import Kind, Status
from tests.factories import make_order
from tests.test_alerts import json_url, mailto_url, wait_for_result


def rule(events, urls, name="rule"):
    return NotificationRule.objects.create(name=name, events=events, urls=urls)


def send_logged():
    """What the worker does with each queued row (synchronously here)."""
    for entry in AlertLog.objects.filter(result=Result.QUEUED):
        delivery.deliver(entry.pk)


def test_an_order_completed_reaches_the_rules_mailbox_and_json_through_the_worker(
    settings, celery_worker, smtp_receiver, json_receiver
):
    settings.ALERT_URLS = ""  # the rules work without the alerts' targets
    rule(["order.completed"], f"{mailto_url(smtp_receiver)}\n{json_url(json_receiver, '/sales')}", "Sales")
    rule(["order.refunded"], json_url(json_receiver, "/refunds"), "Refunds")
    order = make_order(Status.WAITING_CODE)
    lifecycle.transition(order, Status.COMPLETED, code="123456", completed_at=timezone.now())

    entry = wait_for_result(AlertLog.objects.get())
    assert entry.result == Result.SENT and entry.delivered == 2 and entry.rule.name == "Sales"
    [post] = json_receiver.wait_for_posts(1)
    assert post.path == "/sales"
    assert post.json()["title"] == "Order completed: Telegram, USA, 1,500 sats"
    assert str(order.public_id) in post.json()["message"] and "123456" not in post.json()["message"]  # no code
    [mail] = smtp_receiver.wait_for_messages(1)
    assert mail["Subject"] == "Order completed: Telegram, USA, 1,500 sats"


def test_refunded_and_rental_sms_go_to_the_rules_that_chose_them(db, json_receiver):
    rule(["order.refunded", "order.rental_sms_received"], json_url(json_receiver, "/ops"))
    rule(["order.completed"], json_url(json_receiver, "/sales"))
    refunded = make_order(Status.HELD)
    lifecycle.transition(refunded, Status.REFUNDED, refund_reason="no_code", refunded_at=timezone.now())
    rental = make_order(Status.ACTIVE, Kind.RENTAL, number="15550001")
    assert lifecycle.record_rental_sms(rental, "111", {"code": "111"}, timezone.now())
    send_logged()
    posts = json_receiver.wait_for_posts(2)
    assert [post.path for post in posts] == ["/ops", "/ops"]
    titles = sorted(post.json()["title"] for post in posts)
    assert titles[0].startswith("Order refunded: Telegram") and titles[1].startswith("Order rented number received")
    assert "Refund reason: no_code" in next(p.json()["message"] for p in posts if "refunded" in p.json()["title"])


def test_balance_low_goes_to_its_rule_even_with_alerts_off(settings, db, json_receiver):
    settings.ALERT_URLS = ""
    rule([Event.BALANCE_LOW], json_url(json_receiver, "/money"))
    rule([Event.UPSTREAM_DOWN], json_url(json_receiver, "/other"))
    assert delivery.raise_alert(Event.BALANCE_LOW, "Prepaid balance low: 900 sats", "Fund it") is None  # no ALERT_URLS
    send_logged()
    [post] = json_receiver.wait_for_posts(1)
    assert post.path == "/money" and post.json()["title"] == "Prepaid balance low: 900 sats"


def test_an_inactive_rule_sends_nothing(db, json_receiver):
    NotificationRule.objects.create(name="off", events=["order.completed"], urls=json_url(json_receiver), active=False)
    order = make_order(Status.WAITING_CODE)
    lifecycle.transition(order, Status.COMPLETED, code="1", completed_at=timezone.now())
    assert AlertLog.objects.count() == 0


# --- The admin ---------------------------------------------------------------------------------------------


def test_rules_are_managed_and_test_sent_from_the_admin(admin_client, json_receiver):
    add = reverse("admin:alerts_notificationrule_add")
    page = admin_client.get(add).content.decode()
    for event in ("order.completed", "order.refunded", "order.rental_sms_received", "balance_low"):
        assert f'value="{event}"' in page
    response = admin_client.post(
        add,
        {"name": "Sales", "events": ["order.completed"], "urls": json_url(json_receiver, "/sales"), "active": "on"},
    )
    assert response.status_code == 302
    saved = NotificationRule.objects.get()
    listing = admin_client.get(reverse("admin:alerts_notificationrule_changelist")).content.decode()
    assert "Sales" in listing and str(json_receiver.port) not in listing  # targets counted, never shown

    button = reverse("admin:alerts_notificationrule_test", args=[saved.pk])
    assert button in admin_client.get(reverse("admin:alerts_notificationrule_change", args=[saved.pk])).content.decode()
    assert admin_client.get(button).status_code == 405
    assert "test notification queued" in admin_client.post(button, follow=True).content.decode()
    send_logged()
    [post] = json_receiver.wait_for_posts(1)
    assert post.path == "/sales" and post.json()["title"] == "Test notification from the sms4sats shop"
    log = admin_client.get(reverse("admin:alerts_alertlog_changelist")).content.decode()
    assert "rule: Sales" in log


@pytest.mark.parametrize(
    "urls, error",
    [
        ("nosuchservice://token@host", "URL 1: Apprise does not understand it"),
        ("json://169.254.169.254/latest", "URL 1: not an allowed address"),
        ("", "This field is required"),
    ],
)
def test_the_rule_form_refuses_bad_targets(admin_client, db, urls, error):
    response = admin_client.post(
        reverse("admin:alerts_notificationrule_add"), {"name": "x", "events": ["order.completed"], "urls": urls}
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert "token@host" not in str(response.context["adminform"].form.errors)  # the URL's secret not repeated
    assert not NotificationRule.objects.exists()


def test_alert_times_are_utc_to_the_second(admin_client, db):
    from datetime import UTC, datetime

    entry = AlertLog.objects.create(
        event=Event.TEST, title="t", created_at=datetime(2026, 12, 3, 10, 4, 5, tzinfo=UTC), result=Result.SENT
    )
    listing = admin_client.get(reverse("admin:alerts_alertlog_changelist")).content.decode()
    page = admin_client.get(reverse("admin:alerts_alertlog_change", args=[entry.pk])).content.decode()
    assert "2026-12-03 10:04:05 UTC" in listing and "2026-12-03 10:04:05 UTC" in page
