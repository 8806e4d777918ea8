"""The operator changes the referral address on the admin's settings page in Chromium, and the next order a buyer
places carries it to sms4sats (the sandbox over HTTP, created by a real Celery worker), with no restart; the
change shows in the page's history. SHOTS_DIR=dir saves settings-error.png and settings-saved.png."""

import pytest

from orders.models import Kind
from sandbox.models import SandboxOrder
from tests.browser import choose, shoot, the_order
from tests.test_browser_alerts import log_in

pytestmark = pytest.mark.browser

NEW_REF = "operator@127.0.0.1:9"  # nothing answers there: the referral check says so, the order still carries it


def order_a_number(page, base):
    page.goto(base + "/")
    choose(page, 43, "tg")
    page.get_by_role("button", name="Order number").click()
    page.wait_for_selector(".qr-svg")  # the worker has created it at the sandbox
    order = the_order(kind=Kind.RECEIVE)
    return SandboxOrder.objects.get(order_id=order.upstream_id)


def test_a_new_referral_address_reaches_the_next_order_without_a_restart(shop, new_page, admin_user):
    buyer, operator = new_page(), new_page()
    assert order_a_number(buyer, shop).ref == ""  # no referral address yet

    log_in(operator, shop, admin_user)
    operator.goto(shop + "/admin/shopsettings/storedsetting/")
    operator.fill("#id_SMS4SATS_REF", "operator-at-nowhere")
    operator.click("#save-settings")
    error = operator.locator("#error-SMS4SATS_REF")
    assert error.inner_text() == "expected a Lightning Address like name@domain, got 'operator-at-nowhere'"
    shoot(operator, "settings-error")

    operator.fill("#id_SMS4SATS_REF", NEW_REF)
    operator.click("#save-settings")
    assert "Saved: SMS4SATS_REF" in operator.locator(".messagelist").inner_text()
    assert operator.input_value("#id_SMS4SATS_REF") == NEW_REF
    first_change = operator.locator("#settings-history tbody tr").first.inner_text()
    assert admin_user.username in first_change and "SMS4SATS_REF" in first_change and NEW_REF in first_change
    shoot(operator, "settings-saved")

    assert order_a_number(buyer, shop).ref == NEW_REF
