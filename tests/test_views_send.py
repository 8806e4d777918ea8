"""Send an SMS: E.164 phone with a clear message, 140-character message with a counter, server price."""

import pytest

from orders.models import Kind, Order

pytestmark = pytest.mark.django_db


def test_send_page(client, upstream):
    html = client.get("/send/").content.decode()
    assert '<label for="id_phone">Phone number</label>' in html
    assert '<label for="id_message">Message</label>' in html
    assert 'data-counter="message-counter" data-limit="140"' in html
    assert "3,000" in html
    assert "Send SMS</button>" in html


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("+44 7911 123456", "+447911123456"),
        ("0049 1512 3456789", "+4915123456789"),
        ("+1 (202) 555-0143", "+12025550143"),
    ],
)
def test_send_order_created_with_e164_and_server_price(client, upstream, raw, e164):
    response = client.post("/send/", {"phone": raw, "message": "  Hello from sats ⚡  ", "price": 1})
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    assert order.kind == Kind.SEND
    assert order.phone == e164
    assert order.message == "Hello from sats ⚡"
    assert order.quoted_sats == 3000
    assert order.session_key == client.session.session_key


@pytest.mark.parametrize(
    "phone, message",
    [
        ("", "Enter the phone number"),
        ("07700 900123", "Start with + and the country code"),
        ("+44 abc", "This is not a phone number"),
        ("+44 12", "does not exist in its country"),
        ("+999 1234567", "This is not a phone number"),
        ("+" + "1" * 60, "too long for a phone number"),
        ("<script>alert(1)</script>", "Start with +"),
    ],
)
def test_bad_phone_gets_a_clear_message(client, upstream, phone, message):
    response = client.post("/send/", {"phone": phone, "message": "hi"})
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert 'id="phone-error"' in html
    assert "<script>alert(1)</script>" not in html
    assert not Order.objects.exists()


def test_message_limits(client, upstream):
    response = client.post("/send/", {"phone": "+447911123456", "message": "x" * 141})
    assert "at most 140 characters (it has 141)" in response.content.decode()
    response = client.post("/send/", {"phone": "+447911123456", "message": "   "})
    assert "Write the message to send." in response.content.decode()
    response = client.post("/send/", {"phone": "+447911123456", "message": "a\x00b"})
    assert response.status_code == 200 and 'id="message-error"' in response.content.decode()
    assert not Order.objects.exists()
    client.post("/send/", {"phone": "+447911123456", "message": "x" * 140})
    assert Order.objects.count() == 1


def test_send_unavailable(client, upstream):
    upstream.down = True
    html = client.get("/send/").content.decode()
    assert "Sending is paused." in html and 'btn-block" disabled' in html
    response = client.post("/send/", {"phone": "+447911123456", "message": "hi"})
    assert response.status_code == 200 and "Sending is paused." in response.content.decode()
    assert not Order.objects.exists()
