"""Paused means paused (issue #25, part 4): while the shared health state says sms4sats is not answering, every
order form is off with the reason and the time of the last check, a POST that comes anyway creates nothing, and
the forms come back by themselves when sms4sats answers."""

import re
import time

import pytest
from django.contrib.sessions.models import Session

from orders.models import Order
from orders.sms4sats import upstream_health

pytestmark = pytest.mark.django_db

FORMS = [
    ("/", {"country": 43, "service": "tg"}, "Order number"),
    ("/send/", {"phone": "+447911123456", "message": "hi"}, "Send SMS"),
    ("/rent/", {"country": 6}, "Rent number"),
]


def submit_button(html, label):
    return re.search(rf'<button type="submit" class="btn btn-primary btn-block"([^>]*)>{label}</button>', html)


@pytest.mark.parametrize(("url", "data", "label"), FORMS)
def test_every_order_form_is_off_with_the_reason_and_the_last_check(client, upstream, sms4sats_down, url, data, label):
    checked = time.strftime("%H:%M:", time.gmtime(upstream_health.state()["checked"]))
    html = client.get(url).content.decode()
    assert "disabled" in submit_button(html, label).group(1)
    assert "sms4sats is not answering right now (last checked at " + checked in html
    assert "this form comes back by itself" in html
    assert 'hx-get="/catalog/open" hx-trigger="every 5s"' in html  # it asks whether sms4sats is back
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html  # without JavaScript too
    assert 'class="banner banner-down"' not in html  # said once, by the form


@pytest.mark.parametrize(("url", "data", "label"), FORMS)
def test_a_post_while_paused_gets_the_calm_answer_and_creates_nothing(
    client, upstream, sms4sats_down, url, data, label
):
    response = client.post(url, data)
    assert response.status_code == 503 and response["Retry-After"] == "60"
    html = response.content.decode()
    assert "Orders are paused" in html and "Nothing was ordered and no money moved" in html
    assert "sms4sats is not answering right now (last checked at" in html
    assert Order.objects.count() == 0 and Session.objects.count() == 0


@pytest.mark.parametrize(("url", "data", "label"), FORMS)
def test_the_forms_are_on_when_sms4sats_answers(client, upstream, url, data, label):
    html = client.get(url).content.decode()
    assert "disabled" not in submit_button(html, label).group(1)
    assert "/catalog/open" not in html and "last checked" not in html


def test_the_paused_forms_poll_answers_204_while_down_then_a_refresh(client, sms4sats_down):
    assert client.get("/catalog/open").status_code == 204
    upstream_health._last_clean["at"] = 0.0
    upstream_health.record(True)
    response = client.get("/catalog/open")
    assert response.status_code == 200 and response["HX-Refresh"] == "true"
