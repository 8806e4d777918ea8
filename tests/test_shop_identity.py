"""The shop's own name and contact (issue #25, part 5): each kind of contact becomes the right link, and the name
and contact show in the footer, on refunds and failures, on receipts and on the error pages; nothing set, the
pages read as before."""

import pytest
from django.urls import reverse

from orders.models import Kind, RefundReason, Status
from sms4sats_site.shop_identity import parse_contact
from tests.factories import make_order

NPUB = "npub1" + "q" * 58


@pytest.mark.parametrize(
    ("raw", "kind", "href", "label"),
    [
        ("help@shop.example", "email", "mailto:help@shop.example", "help@shop.example"),
        ("@smsshop_help", "telegram", "https://t.me/smsshop_help", "@smsshop_help"),
        ("https://t.me/smsshop_help", "telegram", "https://t.me/smsshop_help", "@smsshop_help"),
        ("t.me/smsshop_help", "telegram", "https://t.me/smsshop_help", "@smsshop_help"),
        ("@help:matrix.org", "matrix", "https://matrix.to/#/@help:matrix.org", "@help:matrix.org"),
        (NPUB, "nostr", f"nostr:{NPUB}", "npub1qqqqqqq…qqqqqq"),
        (f"nostr:{NPUB}", "nostr", f"nostr:{NPUB}", "npub1qqqqqqq…qqqqqq"),
        ("https://shop.example/contact", "url", "https://shop.example/contact", "shop.example/contact"),
    ],
)
def test_each_contact_becomes_its_own_link(raw, kind, href, label):
    contact = parse_contact(raw)
    assert (contact.kind, contact.href, contact.label) == (kind, href, label)


@pytest.mark.parametrize("raw", ["call me", "javascript:alert(1)", "@x", "npub1short", "ftp://shop.example", "a@b"])
def test_anything_else_is_refused_with_what_is_accepted(raw):
    with pytest.raises(ValueError, match="expected an e-mail address, a Telegram"):
        parse_contact(raw)


@pytest.fixture
def identity(settings):
    settings.SHOP_NAME = "Nakamoto Numbers"
    settings.SHOP_CONTACT = "@nakanumbers"
    settings.SHOP_TERMS_URL = "https://shop.example/terms"


QUESTIONS = 'Questions? Ask Nakamoto Numbers: <a href="https://t.me/nakanumbers" rel="noopener">@nakanumbers</a>'


@pytest.mark.django_db
def test_the_footer_names_the_shop_its_contact_and_terms(client, upstream, identity):
    html = " ".join(client.get(reverse("orders:how")).content.decode().split())
    assert "This shop is run by Nakamoto Numbers." in html
    assert 'Contact: <a href="https://t.me/nakanumbers" rel="noopener">@nakanumbers</a>' in html
    assert '<a href="https://shop.example/terms" rel="noopener">Terms</a>' in html
    assert "· Nakamoto Numbers</title>" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "kind", "fields"),
    [
        (Status.REFUNDED, Kind.RECEIVE, {"refund_reason": RefundReason.TIMEOUT}),
        (Status.REFUNDED, Kind.SEND, {"refund_reason": RefundReason.SMS_FAILED}),
        (Status.FAILED, Kind.RECEIVE, {}),
        (Status.REFUNDED, Kind.RECEIVE, {"paid_from_balance": True}),
    ],
)
def test_refunds_and_failures_say_whom_to_ask(client, identity, status, kind, fields):
    order = make_order(status, kind, **fields)
    assert QUESTIONS in " ".join(client.get(order.get_absolute_url()).content.decode().split())
    part = client.get(reverse("orders:status", args=[order.public_id])).content.decode()
    assert QUESTIONS in " ".join(part.split())


@pytest.mark.django_db
def test_the_receipt_names_the_shop(client, identity):
    order = make_order(Status.COMPLETED, number="4915123456789", code="123456")
    html = " ".join(client.get(reverse("orders:receipt", args=[order.public_id])).content.decode().split())
    assert '<dt>Shop</dt><dd>Nakamoto Numbers · <a href="https://t.me/nakanumbers"' in html
    text = client.get(reverse("orders:receipt_file", args=[order.public_id])).content.decode()
    assert text.startswith("Receipt · Nakamoto Numbers")
    assert "Nakamoto Numbers · @nakanumbers · https://shop.example/terms" in text


@pytest.mark.django_db
def test_the_error_pages_say_whom_to_ask(client, identity):
    html = " ".join(client.get("/o/not-an-order/").content.decode().split())
    assert QUESTIONS in html
    from shop.views import server_error

    assert QUESTIONS in " ".join(server_error(None).content.decode().split())


@pytest.mark.django_db
def test_with_nothing_set_the_pages_read_as_before(client, upstream):
    html = client.get(reverse("orders:how")).content.decode()
    assert "· SMS for sats</title>" in html and "</span> SMS for sats</a>" in html
    assert "This shop is run by" not in html and "Questions?" not in html and "shop-identity" not in html
    order = make_order(Status.FAILED)
    assert "Questions?" not in client.get(order.get_absolute_url()).content.decode()
