"""The operator's view in Chromium: the dashboard's red card for a referral address that does not resolve (against
a real local LNURL server), and the alert log with its "Send a test alert" button, delivered by a real worker to a
real local JSON receiver (and a second target where nothing listens). SHOTS_DIR=dir saves alerts-dashboard.png
and alerts-log.png."""

import pytest

from alerts import checks
from alerts.models import AlertLog, Event, Result
from tests.browser import shoot, wait_until
from tests.local_servers import LocalHttpServer

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, base, admin_user):
    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(base + "/admin/")


def test_red_referral_card_and_the_alert_log(page, live_server, sandbox_url, celery_worker, admin_user, settings):
    with LocalHttpServer() as lnurl, LocalHttpServer() as receiver:
        settings.ALERT_URLS = f"json://127.0.0.1:{receiver.port}/alerts json://127.0.0.1:9/nobody"
        settings.SMS4SATS_REF = f"operatr@127.0.0.1:{lnurl.port}"  # a typo: the wallet knows no such name
        assert checks.check_referral() == Event.REFERRAL_BROKEN  # what the periodic task does
        base = live_server.url
        log_in(page, base, admin_user)

        page.goto(base + "/admin/dashboard/")
        card = page.locator("#referral-state")
        assert "shop-card-bad" in card.get_attribute("class")
        assert "does not resolve" in card.inner_text() and "HTTP 404" in card.inner_text()
        assert card.evaluate("el => getComputedStyle(el).borderTopColor") == "rgb(198, 40, 40)"
        card.scroll_into_view_if_needed()
        shoot(page, "alerts-dashboard")

        page.goto(base + "/admin/alerts/alertlog/")
        page.click("#send-test-alert")
        assert "Test alert queued for 2 targets" in page.locator(".messagelist").inner_text()
        assert wait_until(lambda: AlertLog.objects.filter(event=Event.TEST, result=Result.RETRYING).exists(), 20)
        assert wait_until(lambda: len(receiver.posts) == 2, 10)  # the referral alert and the test alert
        page.reload()
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 2
        test_row = rows.nth(0).inner_text()
        assert (
            "Test alert from the sms4sats shop" in test_row
            and "failed, will retry: 1 of 2 targets, 1 attempt" in test_row
        )
        assert "target 2: A Connection error occurred" in test_row
        assert "does not resolve" in rows.nth(1).inner_text()
        shoot(page, "alerts-log")
