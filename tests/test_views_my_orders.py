"""My orders: what this browser ordered, newest first; another browser sees none of it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders.models import Order

pytestmark = pytest.mark.django_db


def test_empty(client):
    html = client.get("/orders/").content.decode()
    assert "No orders from this browser yet." in html


def test_session_scoping_and_order(client, upstream):
    client.post("/", {"country": 43, "service": "tg"})
    client.post("/send/", {"phone": "+447911123456", "message": "hi"})
    first, second = Order.objects.order_by("created_at")
    Order.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    html = client.get("/orders/").content.decode()
    assert html.index(second.get_absolute_url()) < html.index(first.get_absolute_url())
    assert "Telegram · Germany" in html and "SMS to +447911123456" in html

    other = Client()
    other.post("/", {"country": 0, "service": "tg"})
    other_html = other.get("/orders/").content.decode()
    assert first.get_absolute_url() not in other_html and second.get_absolute_url() not in other_html
    assert "Telegram · Russia" in other_html
    assert "Telegram · Russia" not in client.get("/orders/").content.decode()


def test_orders_survive_a_new_request_with_the_same_cookie(client, upstream):
    client.post("/", {"country": 43, "service": "tg"})
    order = Order.objects.get()
    again = Client()
    again.cookies = client.cookies
    assert order.get_absolute_url() in again.get("/orders/").content.decode()


def test_how_it_works(client):
    html = client.get("/how-it-works/").content.decode()
    assert "Hold invoices" in html and "Refunds" in html and "Privacy" in html
    assert "21 minutes" in html


def test_my_orders_is_never_stored_by_a_cache(client, upstream):
    client.post("/", {"country": 43, "service": "tg"})
    response = client.get("/orders/")
    assert Order.objects.get().get_absolute_url() in response.content.decode()
    assert set(response["Cache-Control"].replace(" ", "").split(",")) >= {"private", "no-store"}
