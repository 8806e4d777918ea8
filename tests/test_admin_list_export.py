"""The order list's date range, its service filter by name, and its "Export CSV" button: the whole filtered
list (filters, date range, search), streamed, staff only, cells safe for spreadsheets."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from backoffice import admin as order_admin
from orders.models import Kind, Status
from tests.factories import make_order

CHANGELIST = "admin:orders_order_changelist"
EXPORT = "admin:orders_order_export"
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def orders(db):
    return {
        "mar08": make_order(Status.COMPLETED, created_at=T0 - timedelta(days=2)),
        "mar09_late": make_order(Status.REFUNDED, created_at=datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC)),
        "mar10": make_order(Status.COMPLETED, created_at=T0, service_code="wa", service_name="WhatsApp"),
        "mar11_midnight": make_order(Status.EXPIRED, created_at=datetime(2025, 3, 11, 0, 0, tzinfo=UTC)),
        "send_mar12": make_order(Status.COMPLETED, kind=Kind.SEND, created_at=T0 + timedelta(days=2)),
    }


def listed(client, params):
    response = client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200, response.content[:300]
    return response, {order.public_id for order in response.context["cl"].result_list}


def ids(orders, *names):
    return {orders[name].public_id for name in names}


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


# --- The date range ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"created_from": "2025-03-09", "created_to": "2025-03-10"}, ["mar09_late", "mar10"]),
        ({"created_from": "2025-03-10"}, ["mar10", "mar11_midnight", "send_mar12"]),
        ({"created_to": "2025-03-09"}, ["mar08", "mar09_late"]),  # the end day is included, to its last second
        ({"created_from": "2025-03-11", "created_to": "2025-03-11"}, ["mar11_midnight"]),
        ({"created_from": "", "created_to": ""}, ["mar08", "mar09_late", "mar10", "mar11_midnight", "send_mar12"]),
        ({"created_from": "2025-03-09", "status__exact": "completed"}, ["mar10", "send_mar12"]),  # with other filters
    ],
)
def test_date_range(admin_client, orders, params, expected):
    response, found = listed(admin_client, params)
    assert found == ids(orders, *expected)
    assert messages_of(response) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"created_from": "10/03/2025"}, "The date “10/03/2025” (from) is not a date like 2025-03-31"),
        ({"created_to": "2025-02-30"}, "The date “2025-02-30” (to) is not a date like 2025-03-31"),
        ({"created_to": "<script>"}, "The date “&lt;script&gt;” (to)"),
        ({"created_from": "9" * 40}, "is not a date like 2025-03-31"),
        ({"created_from": "2025-03-12", "created_to": "2025-03-01"}, "The range ends (2025-03-01) before it starts"),
    ],
)
def test_bad_dates_are_said_and_not_applied(admin_client, orders, params, message):
    response = admin_client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == len(orders)  # the bad bound is not applied
    body = response.content.decode()
    assert message in body
    assert "<script>" not in body.split('id="changelist"')[0].split("messagelist")[-1]


def test_the_range_form_keeps_the_other_filters(admin_client, orders):
    body = admin_client.get(reverse(CHANGELIST), {"status__exact": "completed", "q": "up-x"}).content.decode()
    form = body.split('id="created-range-filter"')[1].split("</form>")[0]
    assert '<input type="hidden" name="status__exact" value="completed">' in form
    assert '<input type="hidden" name="q" value="up-x">' in form
    assert 'name="created_from"' in form and 'name="created_to"' in form
    assert 'type="date"' in form


def test_the_end_of_time_is_a_calm_answer(admin_client, orders):
    _, found = listed(admin_client, {"created_to": "9999-12-31", "created_from": "0001-01-01"})
    assert len(found) == len(orders)


# --- The service filter by name -----------------------------------------------------------------------


def test_service_filter_shows_names(admin_client, orders):
    make_order(Status.UNPAID, service_code="zz", service_name="")  # a code whose name was never known
    response = admin_client.get(reverse(CHANGELIST))
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "service")
    assert spec.lookup_choices == [("tg", "Telegram (tg)"), ("wa", "WhatsApp (wa)"), ("zz", "zz")]  # by name
    body = response.content.decode()
    assert '<a href="?service=wa">WhatsApp (wa)</a>' in body
    _, found = listed(admin_client, {"service": "wa"})
    assert found == ids(orders, "mar10")


# --- Export CSV ---------------------------------------------------------------------------------------


def export(client, params):
    response = client.get(reverse(EXPORT), params)
    assert response.status_code == 200, response.content[:300]
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return [row for row in rows if not row["public_id"].startswith("TOTAL")]  # the orders (tests/test_books.py: totals)


def test_the_button_keeps_the_current_filters_and_search(admin_client, orders):
    params = {"status__exact": "completed", "created_from": "2025-03-09", "q": "x"}
    body = admin_client.get(reverse(CHANGELIST), params).content.decode()
    link = body.split('id="export-csv"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert link.startswith(reverse(EXPORT) + "?")
    for part in ("status__exact=completed", "created_from=2025-03-09", "q=x"):
        assert part in link.replace("&amp;", "&")


def test_export_is_the_whole_filtered_list(admin_client, orders):
    rows = export(admin_client, {"status__exact": "completed", "created_from": "2025-03-09"})
    assert [row["public_id"] for row in rows] == [str(orders[n].public_id) for n in ("send_mar12", "mar10")]
    everything = export(admin_client, {})
    assert len(everything) == len(orders)
    assert export(admin_client, {"service": "wa"})[0]["service_name"] == "WhatsApp"
    assert export(admin_client, {"q": orders["mar10"].public_id.hex}) == [
        row for row in everything if row["public_id"] == str(orders["mar10"].public_id)
    ]


def test_export_takes_every_row_not_one_page(admin_client, db, monkeypatch):
    monkeypatch.setattr(order_admin, "CSV_CHUNK", 7)  # several chunks of the iterator
    for i in range(60):  # more than a page of the list (50)
        make_order(Status.COMPLETED, created_at=T0 + timedelta(minutes=i))
    rows = export(admin_client, {"status__exact": "completed"})
    assert len(rows) == 60
    assert rows[0]["created_at"] > rows[-1]["created_at"]  # newest first


def test_export_streams_from_an_iterator(admin_client, orders, monkeypatch):
    seen = []
    original = order_admin.QuerySet.iterator

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("chunk_size"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(order_admin.QuerySet, "iterator", spy)
    response = admin_client.get(reverse(EXPORT))
    assert seen == []  # nothing read before the download starts
    lines = list(response.streaming_content)
    assert seen == [order_admin.CSV_CHUNK]
    # One chunk of the response per row, the header first; then the totals: buyers' orders, all.
    assert len(lines) == len(orders) + 1 + 2


@pytest.mark.parametrize(
    ("planted", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1:A3)", "'+SUM(A1:A3)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Telegram", "Telegram"),
    ],
)
def test_export_cells_are_safe_for_spreadsheets(admin_client, db, planted, written):
    make_order(Status.COMPLETED, service_name=planted, phone="+447911123456")
    row = export(admin_client, {})[0]
    assert row["service_name"] == written


def test_a_phone_number_stays_a_phone_number(admin_client, db):
    make_order(Status.COMPLETED, kind=Kind.SEND, phone="+447911123456")
    assert export(admin_client, {})[0]["destination_phone"] == "+447911123456"


def test_export_is_staff_only(client, orders):
    url = reverse(EXPORT)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    staff = User.objects.create_user("clerk", password="pw-123-long", is_staff=True)
    client.login(username="clerk", password="pw-123-long")
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    assert client.get(url).status_code == 200


def test_export_with_filters_it_cannot_apply_is_a_message(admin_client, orders):
    response = admin_client.get(reverse(EXPORT), {"no_such_field__exact": "1"}, follow=True)
    assert response.status_code == 200
    assert "nothing was exported" in response.content.decode()
