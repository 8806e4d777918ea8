"""The admin's order page: the timeline first, every time to the second, raw sms4sats answers wrapped (the
page itself is checked in Chromium by tests/test_browser_admin_order_page.py), balance orders said so."""

from datetime import UTC, datetime

from django.urls import reverse

from orders.models import Status
from sandbox.invoices import make_invoice
from tests.factories import make_order

AT = datetime(2026, 12, 3, 10, 4, 5, tzinfo=UTC)


def change_page(admin_client, order):
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_timeline_comes_first_with_times_to_the_second(admin_client, db):
    invoice = make_invoice(1500, "sms4sats payment USA tg", AT)
    order = make_order(
        Status.UNPAID,
        created_at=AT,
        bolt11=invoice.payreq,
        events=[
            {"at": AT, "to_status": "new", "note": "Order placed"},
            {
                "at": AT.replace(second=7),
                "from_status": "creating",
                "to_status": "unpaid",
                "note": "Invoice issued",
                "upstream": {"orderId": invoice.payment_hash, "payreq": invoice.payreq},
            },
        ],
    )
    body = change_page(admin_client, order)
    timeline = body.index('id="events-group"')
    assert timeline < body.index("What was ordered") < body.index("Money")
    assert timeline < body.index('<fieldset class="module aligned')
    assert "2026-12-03 10:04:05 UTC" in body  # the first event, and the order's creation
    assert "2026-12-03 10:04:07 UTC" in body
    assert body.count("2026-12-03 10:04:05 UTC") >= 2
    # The raw answer, whole, in a block that wraps anywhere (no inline style keeps it one line).
    assert invoice.payreq in body[timeline : body.index("What was ordered")]
    assert '<pre class="upstream-json">' in body
    assert "overflow-wrap: anywhere" in body


def test_a_balance_order_says_how_it_was_paid(admin_client, db, settings):
    original = make_order(Status.REFUNDED, refund_reason="timeout")
    order = make_order(
        Status.WAITING_CODE,
        paid_from_balance=True,
        replaces=original,
        bolt11="",
        events=[{"from_status": "creating", "to_status": "held", "note": "Paid from balance: sms4sats took the price"}],
    )
    body = change_page(admin_client, order)
    assert "Paid from balance" in body
    assert "the prepaid balance (no invoice; the buyer pays nothing)" in body
    assert settings.PUBLIC_BASE_URL + order.get_absolute_url() in body  # the address to pass on to the buyer
    assert reverse("admin:orders_order_change", args=[original.pk]) in body
    original_body = change_page(admin_client, original)
    assert f"{order.public_id.hex[:8]}… (Waiting for the code)" in original_body
    assert "the buyer&#x27;s Lightning invoice" in original_body


def test_replace_from_balance_only_on_receive_orders(admin_client, db):
    receive = make_order(Status.REFUNDED)
    assert f"{reverse('admin:balance_order')}?replaces={receive.pk}" in change_page(admin_client, receive)
    send = make_order(Status.COMPLETED, kind="send")
    assert "Replace from balance" not in change_page(admin_client, send)
