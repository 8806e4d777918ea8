"""HTML planted in every field a page shows (the buyer's message and phone, country and service names, the
upstream's number, code, error and failure reason, timeline notes and snapshots) comes out escaped on every
page that shows it: the order page and its live part, my orders, and the admin list, detail and dashboard."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Kind, RefundReason, Status
from tests.factories import make_order

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SHORT = "<b onclick=x>1</b>"  # fits the 20-character phone field
SHORT_ESCAPED = "&lt;b onclick=x&gt;1&lt;/b&gt;"
RAW = (SCRIPT, SHORT, "<script>", "onclick=x>")


def planted(kind, status, **fields):
    """An order with HTML in every text field the upstream or the buyer fills, and in its timeline."""
    now = timezone.now()
    values = dict(
        quoted_sats=3000,
        country_code=43,
        country_name=f"Germany {SCRIPT}",
        service_code="tg",
        service_name=f"Telegram {SCRIPT}",
        created_at=now - timedelta(minutes=5),
        paid_at=now - timedelta(minutes=4),
        upstream_id=f"up-{uuid.uuid4().hex}",
        upstream_error=f"backend {SCRIPT}",
        failure_reason=f"reason {SCRIPT}",
        session_key="",
    )
    values.update(fields)
    event = dict(
        from_status=Status.HELD,
        to_status=status,
        note=f"Payment canceled upstream: {SCRIPT}",
        upstream={"status": "OK", "number": SCRIPT, "code": SCRIPT, "error": SCRIPT, SCRIPT: [SCRIPT]},
    )
    return make_order(status, kind, events=[event], **values)


@pytest.fixture
def orders(client):
    session = client.session  # a browser session, so that "my orders" lists these
    key = session.session_key
    return {
        "completed": planted(
            Kind.RECEIVE, Status.COMPLETED, number=SCRIPT, code=SCRIPT, session_key=key, completed_at=timezone.now()
        ),
        "waiting": planted(Kind.RENTAL, Status.WAITING_CODE, number=SCRIPT, rental_weeks=2, session_key=key),
        "refunded": planted(
            Kind.RECEIVE,
            Status.REFUNDED,
            number=SCRIPT,
            refund_reason=RefundReason.UPSTREAM,
            refunded_at=timezone.now(),
            session_key=key,
        ),
        "unknown_reason": planted(Kind.RECEIVE, Status.REFUNDED, refund_reason=SCRIPT[:12], session_key=key),
        "failed": planted(Kind.RECEIVE, Status.FAILED, session_key=key, paid_at=None),
        "send": planted(
            Kind.SEND,
            Status.REFUNDED,
            phone=SHORT,
            message=f"Hi {SCRIPT}",
            country_code=None,
            country_name="",
            service_code="",
            service_name="",
            refund_reason=RefundReason.SMS_FAILED,
            sms_status="failed",
            session_key=key,
        ),
        "sent": planted(
            Kind.SEND,
            Status.COMPLETED,
            phone=SHORT,
            message=f"Hi {SCRIPT}",
            country_code=None,
            country_name="",
            service_code="",
            service_name="",
            sms_status="sent",
            completed_at=timezone.now(),
            session_key=key,
        ),
    }


def assert_escaped(response, *expected):
    assert response.status_code in (200, 286), response.status_code
    html = response.content.decode()
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r}"
    for text in expected:
        assert text in html, f"{text!r} not shown"
    return html


def test_order_pages_and_live_parts(client, orders):
    shows = {
        "completed": [ESCAPED],  # the number and the code
        "waiting": [ESCAPED],
        "refunded": [],
        "unknown_reason": [],
        "failed": [],  # the buyer sees a plain "no invoice was issued", never the upstream's words
        "send": [SHORT_ESCAPED],
        "sent": [],
    }
    for name, order in orders.items():
        assert_escaped(client.get(order.get_absolute_url()), *shows[name])
        assert_escaped(client.get(reverse("orders:status", args=[order.public_id])), *shows[name])


def test_my_orders(client, orders):
    html = assert_escaped(client.get("/orders/"), ESCAPED)
    assert html.count("/o/") >= len(orders)


def test_admin_list_and_search(admin_client, orders):
    assert_escaped(admin_client.get("/admin/orders/order/"), ESCAPED)
    assert_escaped(admin_client.get("/admin/orders/order/", {"q": SCRIPT}))
    bad_filter = admin_client.get("/admin/orders/order/", {"q": "x", "country_code": SCRIPT})
    assert bad_filter.status_code == 302 and "<" not in bad_filter["Location"]  # Django's "?e=1"


def test_admin_detail_with_its_timeline(admin_client, orders):
    for order in orders.values():
        html = assert_escaped(admin_client.get(f"/admin/orders/order/{order.pk}/change/"), ESCAPED)
        assert "Payment canceled upstream: " + ESCAPED in html


def test_admin_dashboard(admin_client, orders):
    assert_escaped(admin_client.get(reverse("admin:dashboard")), ESCAPED)


def test_csv_export_is_not_html(admin_client, orders):
    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "export_csv", "_selected_action": [o.pk for o in orders.values()], "select_across": "0"},
    )
    if response.status_code == 200 and response["Content-Type"].startswith("text/csv"):
        assert "text/html" not in response["Content-Type"]
        assert response["X-Content-Type-Options"] == "nosniff"


def test_query_parameters_are_escaped_where_echoed(client, upstream):
    for url, params in [
        ("/", {"country": SCRIPT}),
        ("/catalog/services", {"country": SCRIPT}),
        ("/catalog/price", {"country": "43", "service": SCRIPT}),
        ("/rent/", {"country": SCRIPT}),
    ]:
        assert_escaped(client.get(url, params))
    assert_escaped(client.post("/", {"country": "43", "service": SCRIPT}))
    assert_escaped(client.post("/send/", {"phone": SCRIPT, "message": SCRIPT}), ESCAPED)
