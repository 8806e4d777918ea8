"""The order history in the admin: list columns, each filter, search, the read-only detail with its
timeline, and the CSV export."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from orders.models import Kind, Order, RefundReason, Status
from tests.factories import make_order

CHANGELIST = "admin:orders_order_changelist"
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def orders(db):
    return {
        "done_us_tg": make_order(
            status=Status.COMPLETED,
            created_at=T0,
            paid_after=10,
            code_after=125,
            quoted_sats=3000,
            invoice_sats=3100,
            upstream_id="up-aaa111",
            number="12025550143",
        ),
        "waiting_de_wa": make_order(
            status=Status.WAITING_CODE,
            created_at=T0 - timedelta(days=1),
            paid_after=5,
            country_code=43,
            country_name="Germany",
            service_code="wa",
            service_name="WhatsApp",
            upstream_id="up-bbb222",
            number="4915550001111",
        ),
        "refunded_uk": make_order(
            status=Status.REFUNDED,
            created_at=T0 - timedelta(days=40),
            paid_after=5,
            country_code=16,
            country_name="United Kingdom",
            refund_reason=RefundReason.TIMEOUT,
            upstream_id="up-ccc333",
        ),
        "send": make_order(
            kind=Kind.SEND,
            status=Status.COMPLETED,
            created_at=T0 - timedelta(days=400),
            paid_after=3,
            upstream_id="up-ddd444",
            phone="+33612345678",
            quoted_sats=900,
            invoice_sats=None,
        ),
        "rental_expired": make_order(
            kind=Kind.RENTAL,
            status=Status.EXPIRED,
            created_at=T0 + timedelta(hours=1),
            service_code="full",
            service_name="Any service",
            rental_weeks=1,
        ),
    }


def listed(client, **params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200, response.content[:500]
    return {order.public_id for order in response.context["cl"].result_list}


def ids(*orders):
    return {order.public_id for order in orders}


def test_list_shows_the_columns(admin_client, orders):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    body = response.content.decode()
    for header in (
        "Public id",
        "Kind",
        "Status",
        "Country",
        "Service",
        "Price (sats)",
        "Created (UTC)",
        "Payment → code",
    ):
        assert header in body, header
    assert str(orders["done_us_tg"].public_id) in body
    assert "3,100" in body  # the invoice's amount, not the quote (grouped)
    assert "2 min 05 s" in body  # paid 125 s before the code
    assert "Germany (43)" in body
    assert listed(admin_client) == ids(*orders.values())


def test_list_is_newest_first(admin_client, orders):
    response = admin_client.get(reverse(CHANGELIST))
    created = [order.created_at for order in response.context["cl"].result_list]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "completed"}, ["done_us_tg", "send"]),
        ({"status__exact": "waiting_code"}, ["waiting_de_wa"]),
        ({"kind__exact": "send"}, ["send"]),
        ({"kind__exact": "rental"}, ["rental_expired"]),
        ({"country": "43"}, ["waiting_de_wa"]),
        ({"country": "187"}, ["done_us_tg", "rental_expired"]),
        ({"service": "tg"}, ["done_us_tg", "refunded_uk"]),
        ({"service": "full"}, ["rental_expired"]),
        ({"refund_reason__exact": "timeout"}, ["refunded_uk"]),
        (
            {"created_at__gte": "2025-03-10 00:00:00+00:00", "created_at__lt": "2025-03-11 00:00:00+00:00"},
            ["done_us_tg", "rental_expired"],
        ),
        ({"created_at__year": "2025", "created_at__month": "3"}, ["done_us_tg", "waiting_de_wa", "rental_expired"]),
        ({"created_at__year": "2024"}, ["send"]),
        ({"status__exact": "completed", "kind__exact": "receive"}, ["done_us_tg"]),
    ],
)
def test_each_filter(admin_client, orders, params, expected):
    assert listed(admin_client, **params) == ids(*(orders[name] for name in expected))


def test_date_filter_relative_choices(admin_client, db):
    from django.utils import timezone

    recent = make_order(status=Status.COMPLETED, created_at=timezone.now() - timedelta(minutes=5))
    old = make_order(status=Status.COMPLETED, created_at=timezone.now() - timedelta(days=20))
    response = admin_client.get(reverse(CHANGELIST))
    body = response.content.decode()
    assert "Past 7 days" in body
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    week = {"created_at__gte": str(today - timedelta(days=7)), "created_at__lt": str(today + timedelta(days=1))}
    assert listed(admin_client, **week) == ids(recent)
    assert old.public_id in listed(admin_client)


def test_filter_sidebar_lists_countries_and_services(admin_client, orders):
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "?country=43" in body
    assert "Germany (43)" in body
    assert "?service=wa" in body
    assert "?service=full" in body


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("up-bbb222", ["waiting_de_wa"]),  # upstream order id
        ("12025550143", ["done_us_tg"]),  # the number given to the buyer
        ("+1 202 555 0143", ["done_us_tg"]),  # typed with spaces and a plus
        ("5550001111", ["waiting_de_wa"]),  # part of a number
        ("+33612345678", ["send"]),  # destination phone of a send order
        ("33 6 12", ["send"]),
        ("nothing-like-this", []),
    ],
)
def test_search(admin_client, orders, term, expected):
    assert listed(admin_client, q=term) == ids(*(orders[name] for name in expected))


def test_search_by_public_id_and_by_the_buyers_url(admin_client, orders):
    order = orders["refunded_uk"]
    assert listed(admin_client, q=str(order.public_id)) == ids(order)
    assert listed(admin_client, q=str(order.public_id).upper()) == ids(order)
    assert listed(admin_client, q="https://shop.example" + order.get_absolute_url()) == ids(order)
    assert listed(admin_client, q=str(order.public_id)[:8]) == ids(order)


def test_detail_is_read_only_with_the_timeline(admin_client, db):
    order = make_order(
        status=Status.WAITING_CODE,
        paid_after=4,
        upstream_id="up-timeline",
        number="447700900123",
        events=[
            {"from_status": "", "to_status": "new", "note": "Order placed"},
            {
                "from_status": "unpaid",
                "to_status": "held",
                "note": "Payment seen",
                "upstream": {"paid": True, "number": "", "orderId": "up-timeline"},
            },
            {
                "from_status": "held",
                "to_status": "waiting_code",
                "note": "Number assigned",
                "upstream": {"paid": True, "number": "447700900123"},
            },
        ],
    )
    url = reverse("admin:orders_order_change", args=[order.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    # Every field is read only: no form inputs for the order's fields, no save button.
    adminform = response.context["adminform"]
    assert list(adminform.form.fields) == []
    assert 'name="_save"' not in body
    assert 'name="_continue"' not in body
    # Secrets are not shown.
    assert order.webhook_secret not in body
    assert "Session key" not in body
    # The timeline, oldest first, with the transitions and the upstream answers pretty-printed.
    assert "Timeline" in body
    first = body.index("Order placed")
    assert first < body.index("Payment seen") < body.index("Number assigned")
    assert "unpaid → held" in body
    assert "held → waiting_code" in body
    assert "&quot;number&quot;: &quot;447700900123&quot;" in body
    assert '<pre class="upstream-json"' in body
    assert "Refresh from upstream now" in body
    assert "Cancel upstream" in body
    # Posting the form changes nothing.
    admin_client.post(url, {"status": "completed"})
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE


def test_no_add_and_no_delete(admin_client, orders):
    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403
    order = orders["send"]
    assert admin_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "delete_selected" not in body
    assert Order.objects.filter(pk=order.pk).exists()


def export(client, data):
    response = client.post(reverse(CHANGELIST) + data.pop("_query", ""), {"action": "export_csv", "index": 0, **data})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return [row for row in csv.DictReader(io.StringIO(text)) if not row["public_id"].startswith("TOTAL")]


def test_csv_export_of_the_selected_rows(admin_client, orders):
    chosen = [orders["done_us_tg"], orders["send"]]
    rows = export(admin_client, {"_selected_action": [o.pk for o in chosen]})
    assert list(rows[0].keys()) == [
        "public_id",
        "kind",
        "status",
        "refund_reason",
        "sms_status",
        "country_code",
        "country_name",
        "service_code",
        "service_name",
        "number",
        "destination_phone",
        "quoted_sats",
        "invoice_sats",
        "upstream_id",
        "created_at",
        "paid_at",
        "completed_at",
        "refunded_at",
        "seconds_to_code",
        "paid_with",
        "charged_sats",
        "referral_sats",
        "fiat_currency",
        "fiat_rate",
        "fiat_value",
    ]
    assert [row["public_id"] for row in rows] == [str(o.public_id) for o in chosen]  # newest first
    first = rows[0]
    assert first["kind"] == "receive"
    assert first["status"] == "completed"
    assert first["country_code"] == "187"
    assert first["service_code"] == "tg"
    assert first["number"] == "12025550143"
    assert first["quoted_sats"] == "3000"
    assert first["invoice_sats"] == "3100"
    assert first["upstream_id"] == "up-aaa111"
    assert first["created_at"] == "2025-03-10T12:00:00+00:00"
    assert first["seconds_to_code"] == "125"
    send = rows[1]
    assert send["destination_phone"] == "+33612345678"  # a phone number stays as it is
    assert send["seconds_to_code"] == ""  # only number orders wait for a code
    assert send["invoice_sats"] == ""


def test_csv_export_of_everything_a_filter_matches(admin_client, orders):
    rows = export(
        admin_client,
        {"_query": "?status__exact=completed", "_selected_action": [orders["send"].pk], "select_across": 1},
    )
    assert {row["public_id"] for row in rows} == {str(orders["done_us_tg"].public_id), str(orders["send"].public_id)}


def test_csv_export_neutralises_formulas(admin_client, db):
    order = make_order(status=Status.COMPLETED, country_name='=HYPERLINK("http://x")', service_name="@SUM(A1)")
    rows = export(admin_client, {"_selected_action": [order.pk]})
    assert rows[0]["country_name"].startswith("'=")
    assert rows[0]["service_name"] == "'@SUM(A1)"


def test_pages_are_staff_only(client, db, orders):
    for name in ("admin:dashboard", "admin:prepaid_account", CHANGELIST):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"], name
    User.objects.create_user("buyer", password="pw-123-long", is_staff=False)
    client.login(username="buyer", password="pw-123-long")
    response = client.get(reverse("admin:dashboard"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_need_the_order_permissions(client, db, orders):
    staff = User.objects.create_user("clerk", password="pw-123-long", is_staff=True)
    client.login(username="clerk", password="pw-123-long")
    assert client.get(reverse("admin:dashboard")).status_code == 403
    assert client.get(reverse("admin:prepaid_account")).status_code == 403
    assert client.get(reverse(CHANGELIST)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    staff = User.objects.get(pk=staff.pk)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    # Viewing does not allow the lifecycle actions.
    order = orders["waiting_de_wa"]
    body = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Refresh from upstream now" not in body
    assert client.post(reverse("admin:orders_order_cancel", args=[order.pk])).status_code == 403
    assert 'value="refresh_from_upstream"' not in client.get(reverse(CHANGELIST)).content.decode()


def test_the_list_shows_a_rentals_end_date_and_inbox_count(admin_client, db):
    from datetime import UTC, datetime

    ends = datetime(2026, 12, 24, 18, 30, tzinfo=UTC)
    make_order(Status.ACTIVE, Kind.RENTAL, quoted_sats=1, rental_ends_at=ends, sms_count=4)
    body = admin_client.get("/admin/orders/order/").content.decode()
    assert "until 2026-12-24 · 4 SMS" in body
