"""100,000 orders: the order list, its filters and search, the dashboard and the CSV export run a
bounded number of queries (no query per row) and stay quick."""

import random
import time
import uuid
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from backoffice import stats
from orders.models import Kind, Order, RefundReason, Status

N_ORDERS = 100_000
BATCH = 5_000
COUNTRIES = [
    (187, "USA"),
    (16, "United Kingdom"),
    (43, "Germany"),
    (0, "Russia"),
    (6, "Indonesia"),
    (4, "Philippines"),
    (12, "USA (virtual)"),
    (78, "France"),
    (32, "Romania"),
    (22, "India"),
]
SERVICES = [
    ("tg", "Telegram"),
    ("wa", "WhatsApp"),
    ("go", "Google"),
    ("ds", "Discord"),
    ("tw", "Twitter"),
    ("ig", "Instagram"),
    ("oi", "Tinder"),
    ("fb", "Facebook"),
]
STATUS_WEIGHTS = [
    (Status.COMPLETED, 50),
    (Status.REFUNDED, 10),
    (Status.EXPIRED, 25),
    (Status.UNPAID, 5),
    (Status.WAITING_CODE, 4),
    (Status.HELD, 2),
    (Status.FAILED, 4),
]
TIMINGS = {}


def build_rows(now):
    """The 100,000 rows, as the database stores them (built directly: model instances cost ~30 s here).

    Kinds, statuses, countries, services, prices and times vary at random (seeded), so every filter
    and every dashboard figure has something to find."""
    rng = random.Random(20250310)
    statuses = [s.value for s, w in STATUS_WEIGHTS for _ in range(w)]
    reasons = [r.value for r in RefundReason]
    fields = [f for f in Order._meta.concrete_fields if f.attname != "id"]
    at = {f.attname: i for i, f in enumerate(fields)}
    template = [
        f.get_db_prep_save(None if f.has_default() and callable(f.default) else f.get_default(), connection)
        for f in fields
    ]
    sqlite = connection.vendor == "sqlite"
    base = now.astimezone(UTC).replace(tzinfo=None)

    def dt(value):  # what Django would store: naive UTC text on SQLite, aware on PostgreSQL
        return str(value) if sqlite else value.replace(tzinfo=UTC)

    def uid():
        value = uuid.uuid4()
        return value.hex if not connection.features.has_native_uuid_field else value

    for i in range(N_ORDERS):
        row = template.copy()
        kind = Kind.SEND.value if i % 10 == 0 else (Kind.RENTAL.value if i % 25 == 1 else Kind.RECEIVE.value)
        status = rng.choice(statuses)
        created = base - timedelta(seconds=rng.randrange(90 * 86400))
        price = 3000 + rng.randrange(40) * 50
        row[at["public_id"]] = uid()
        row[at["webhook_secret"]] = f"secret-{i}"
        row[at["kind"]] = kind
        row[at["status"]] = status
        row[at["created_at"]] = dt(created)
        row[at["updated_at"]] = dt(base)
        row[at["quoted_sats"]] = row[at["invoice_sats"]] = price
        row[at["upstream_id"]] = f"scale-{i:06d}"
        row[at["poll_failures"]] = 0
        if kind == Kind.SEND:
            row[at["phone"]] = f"+4915{i:09d}"
        else:
            row[at["country_code"]], row[at["country_name"]] = rng.choice(COUNTRIES)
            row[at["service_code"]], row[at["service_name"]] = rng.choice(SERVICES)
            row[at["number"]] = f"1202{i:07d}"
        if status in PAID:
            paid = created + timedelta(seconds=5 + rng.randrange(30))
            row[at["paid_at"]] = dt(paid)
            if status == Status.COMPLETED:
                row[at["completed_at"]] = dt(paid + timedelta(seconds=10 + rng.randrange(600)))
            elif status == Status.REFUNDED:
                row[at["refund_reason"]] = reasons[i % len(reasons)]
                row[at["refunded_at"]] = dt(paid + timedelta(minutes=21))
        if status in POLLED:
            row[at["next_poll_at"]] = dt(base + timedelta(seconds=rng.randrange(-30, 30)))
        yield row


PAID = {Status.COMPLETED.value, Status.REFUNDED.value, Status.WAITING_CODE.value, Status.HELD.value}
POLLED = {Status.UNPAID.value, Status.WAITING_CODE.value, Status.HELD.value}


def insert_in_batches(rows):
    """Bulk insert: batches of 5,000 rows, one executemany per batch (COPY on PostgreSQL)."""
    fields = [f for f in Order._meta.concrete_fields if f.attname != "id"]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        connection.ops.quote_name(Order._meta.db_table),
        ", ".join(connection.ops.quote_name(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # COPY: PostgreSQL's bulk path (executemany is row by row)
            table = connection.ops.quote_name(Order._meta.db_table)
            columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


@pytest.fixture
def many_orders(db):
    started = time.monotonic()
    now = timezone.now()
    insert_in_batches(build_rows(now))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE orders_order")
    TIMINGS["create 100k"] = time.monotonic() - started
    print(f"\n{'create 100k':45s} {TIMINGS['create 100k']:6.2f} s", flush=True)
    assert Order.objects.count() == N_ORDERS
    return now


def timed(label, func):
    started = time.monotonic()
    result = func()
    TIMINGS[label] = elapsed = time.monotonic() - started
    # Printed, not asserted: timings flake on a loaded machine; the query bounds are the test.
    print(f"{label:45s} {elapsed:6.2f} s", flush=True)
    return result


LIST_PAGES = [
    ("list", {}),
    ("list, page 500", {"p": "500"}),
    ("list, sorted by price", {"o": "6"}),
    (
        "list, status + kind + country + service",
        {"status__exact": "completed", "kind__exact": "receive", "country": "187", "service": "tg"},
    ),
    ("list, date filter", {"created_at__gte": str(timezone.now().replace(microsecond=0) - timedelta(days=7))}),
    ("list, date hierarchy", {"created_at__year": str(timezone.now().year)}),
    ("search, upstream id", {"q": "scale-054321"}),
    ("search, number", {"q": "12020054321"}),
    ("search, destination phone", {"q": "+4915000054320"}),
]


def test_admin_with_100k_orders(admin_client, many_orders, django_assert_max_num_queries):
    url = reverse("admin:orders_order_changelist")
    for label, params in LIST_PAGES:
        with django_assert_max_num_queries(15):
            response = timed(label, lambda params=params: admin_client.get(url, params))
        assert response.status_code == 200, label
        rows = response.context["cl"].result_list
        assert 1 <= len(rows) <= 50, label
    # The searches find exactly the row they look for.
    assert admin_client.get(url, {"q": "scale-054321"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "+4915000054320"}).context["cl"].result_count == 1

    order = Order.objects.get(upstream_id="scale-054321")
    with django_assert_max_num_queries(15):
        response = timed("detail", lambda: admin_client.get(reverse("admin:orders_order_change", args=[order.pk])))
    assert response.status_code == 200

    due_before = Order.objects.filter(next_poll_at__lte=timezone.now()).count()
    with django_assert_max_num_queries(20):
        response = timed("dashboard", lambda: admin_client.get(reverse("admin:dashboard")))
    due_after = Order.objects.filter(next_poll_at__lte=timezone.now()).count()
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["funnel"]["created"] == N_ORDERS
    assert figures["status"]["total"] == N_ORDERS
    assert figures["funnel"]["completed"] == Order.objects.filter(status=Status.COMPLETED).count()
    assert (
        figures["per_day"]["total"]
        == Order.objects.filter(
            created_at__gte=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29)
        ).count()
    )
    assert 10 <= figures["to_code"]["p50"] <= 610
    assert figures["to_code"]["p50"] <= figures["to_code"]["p90"] <= 610
    assert len(figures["top_countries"]) == 10
    # Orders fall due as the clock moves: the dashboard's count is between the counts taken around it.
    assert due_before <= figures["upstream"]["due_for_polling"] <= due_after

    with django_assert_max_num_queries(12):
        figures = timed("stats.dashboard()", lambda: stats.dashboard())

    # Export everything the "refunded" filter matches (select across all pages), streamed.
    def export():
        response = admin_client.post(
            url + "?status__exact=refunded",
            {"action": "export_csv", "index": 0, "select_across": 1, "_selected_action": [order.pk]},
        )
        return response, b"".join(response.streaming_content)

    with django_assert_max_num_queries(10):
        response, content = timed("CSV export, refunded", export)
    refunded = Order.objects.filter(status=Status.REFUNDED).count()
    rows = [line for line in content.splitlines() if not line.startswith(b"TOTAL")]
    assert len(rows) == refunded + 1  # the header and one row per order, then the totals lines
