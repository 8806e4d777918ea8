"""A rental's page: its number, end date and inbox; no cancel; honest words while sms4sats is not answering."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.models import Kind, Order, RentalMessage, Status
from orders.sms4sats import OrderStatus, upstream_health
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def rental(status, **fields):
    now = timezone.now()
    return make_order(
        status,
        Kind.RENTAL,
        quoted_sats=20000,
        country_code=43,
        country_name="Germany",
        service_code="full",
        service_name="Full rental",
        rental_weeks=2,
        paid_at=now,
        upstream_id="rent-1",
        **fields,
    )


def page(client, order):
    response = client.get(order.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_active_rental_shows_end_date_and_every_sms_newest_first_and_no_cancel(client):
    ends = timezone.now() + timedelta(days=13)
    order = rental(Status.ACTIVE, number="4915123456789", number_at=timezone.now(), rental_ends_at=ends, code="2222")
    RentalMessage.objects.create(order=order, code="1111", at=timezone.now() - timedelta(hours=2))
    RentalMessage.objects.create(order=order, code="2222", at=timezone.now())
    html = page(client, order)
    assert "Your rented number" in html and "+4915123456789" in html
    assert ends.strftime("%Y") in html and "left" in html
    assert html.index("2222") < html.index("1111")  # newest first
    assert html.count('data-copy="1111"') == 1 and html.count('data-copy="2222"') == 1
    assert "Cancel and return my payment" not in html
    assert "Automatic cancel" not in html
    main = html[html.index("<main") :]  # (shop.js's words, in the body's data attribute, include "Your code")
    assert "Your code" not in main and "Enter this number in" not in main  # no one-time code wording


def test_held_rental_says_what_is_not_refundable_and_has_no_cancel(client):
    html = page(client, rental(Status.HELD))
    assert "getting your rental number" in html
    assert "not refundable" in html
    assert "charged only when the code arrives" not in html
    assert "Cancel and return my payment" not in html


def test_ended_rental_keeps_its_inbox(client):
    order = rental(Status.ENDED, number="4915123456789", rental_ends_at=timezone.now() - timedelta(minutes=1), code="3")
    RentalMessage.objects.create(order=order, code="3")
    html = page(client, order)
    assert "Rental ended" in html and 'data-copy="3"' in html


def test_a_new_sms_changes_what_the_status_poll_shows(client, django_capture_on_commit_callbacks):
    order = rental(Status.ACTIVE, number="1", number_at=timezone.now(), rental_ends_at=timezone.now() + timedelta(7))
    url = order.get_absolute_url() + "status"
    html = page(client, order)
    shown = html.split('data-version="', 1)[1].split('"', 1)[0]
    assert client.get(url, headers={"X-Order-Version": shown}).status_code == 204
    status = OrderStatus(
        paid=True,
        code="5555",
        number="1",
        activation_id=None,
        sms_status=None,
        country=None,
        service=None,
        timestamp=None,
        error=None,
        raw={},
    )
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_status(order, status)
    response = client.get(url, headers={"X-Order-Version": shown})
    assert response.status_code == 200 and "5555" in response.content.decode()


def test_the_order_page_says_sms4sats_is_not_answering_and_what_it_means(client, settings):
    order = rental(Status.HELD)
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "orderstatus: unreachable")
    html = page(client, order)
    assert "sms4sats is not answering right now" in html
    assert html.count("sms4sats is not answering right now") == 1  # the card says it, not also the banner
    assert "returns to your wallet automatically" in html


def test_the_rent_page_says_what_is_not_refundable_and_warns_about_telegram(client, db):
    html = client.get("/rent/").content.decode()
    terms = html.split('id="rent-terms"', 1)[1].split("</div>", 1)[0]
    assert "not refundable" in terms and "returns to your wallet automatically if none is available" in terms
    assert "Telegram" in terms
    assert "first code arrives" not in html


def test_my_orders_shows_a_rentals_end_date_and_inbox_count(client, db):
    from datetime import UTC, datetime

    session = client.session
    session.save()
    order = rental(Status.ACTIVE, number="4915123456789", rental_ends_at=datetime(2026, 12, 24, tzinfo=UTC))
    Order.objects.filter(pk=order.pk).update(session_key=session.session_key, sms_count=2)
    html = client.get("/orders/").content.decode()
    assert "until 24 Dec 2026 · 2 SMS" in html
