"""The dashboard's figures against a known set of orders: exact counts, sums and percentiles."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice import charts, stats
from orders.models import Kind, RefundReason, Status, format_duration
from orders.process_health import record_heartbeat
from orders.sms4sats import upstream_health
from tests.factories import make_order


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (1, "1 second"),
        (29.6, "30 seconds"),
        (120, "2 minutes"),
        (125, "2 min 05 s"),
        (3795.2, "1 h 03 min"),
        (86400, "1 day"),
    ],
)
def test_one_duration_format_for_the_buyer_pages_and_the_admin(seconds, text):
    assert format_duration(seconds) == text


def day_start(days_ago):
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=days_ago) + timedelta(seconds=30)


@pytest.fixture
def shop(db):
    """Twelve buyers' orders and one fund order; the expected figures are worked out by hand below."""
    now = timezone.now()
    o = {}
    o[1] = make_order(status=Status.COMPLETED, created_at=day_start(0), paid_after=20, code_after=10, invoice_sats=3000)
    o[2] = make_order(status=Status.COMPLETED, created_at=day_start(0), paid_after=20, code_after=20, invoice_sats=3000)
    o[3] = make_order(
        status=Status.COMPLETED,
        created_at=day_start(0),
        paid_after=20,
        code_after=30,
        invoice_sats=4000,
        country_code=43,
        country_name="Germany",
        service_code="wa",
        service_name="WhatsApp",
    )
    o[4] = make_order(
        status=Status.COMPLETED,
        kind=Kind.RENTAL,
        created_at=day_start(1),
        paid_after=20,
        code_after=40,
        invoice_sats=20000,
        service_code="full",
        service_name="Any service",
    )
    o[5] = make_order(
        status=Status.COMPLETED,
        created_at=day_start(1),
        paid_after=20,
        code_after=100,
        invoice_sats=5000,
        country_code=16,
        country_name="United Kingdom",
    )
    o[6] = make_order(
        status=Status.COMPLETED, kind=Kind.SEND, created_at=day_start(2), paid_after=5, code_after=8, quoted_sats=900
    )
    o[7] = make_order(
        status=Status.REFUNDED,
        refund_reason=RefundReason.TIMEOUT,
        created_at=day_start(3),
        paid_after=20,
        invoice_sats=3000,
        country_code=43,
        country_name="Germany",
    )
    o[8] = make_order(
        status=Status.REFUNDED,
        refund_reason=RefundReason.CANCELED,
        created_at=day_start(3),
        paid_after=20,
        invoice_sats=3000,
        service_code="wa",
        service_name="WhatsApp",
    )
    o[9] = make_order(
        status=Status.UNPAID, created_at=day_start(29), invoice_sats=3000, next_poll_at=now - timedelta(seconds=5)
    )
    o[10] = make_order(
        status=Status.EXPIRED,
        created_at=day_start(29),
        invoice_sats=3000,
        country_code=16,
        country_name="United Kingdom",
    )
    o[11] = make_order(status=Status.FAILED, created_at=day_start(30))
    o[12] = make_order(
        status=Status.WAITING_CODE,
        created_at=day_start(45),
        paid_after=20,
        invoice_sats=3000,
        next_poll_at=now + timedelta(seconds=60),
    )
    o["fund"] = make_order(
        status=Status.COMPLETED,
        kind=Kind.FUND,
        created_at=day_start(0),
        paid_after=10,
        code_after=1,
        quoted_sats=50000,
        invoice_sats=50000,
        country_code=None,
        country_name="",
        next_poll_at=now - timedelta(seconds=1),
    )
    return o


def test_status_counts(shop):
    figures = stats.status_counts()
    assert figures["total"] == 12
    assert figures["counts"] == {
        "new": 0,
        "creating": 0,
        "unpaid": 1,
        "held": 0,
        "waiting_code": 1,
        "active": 0,
        "completed": 6,
        "refunded": 2,
        "expired": 1,
        "failed": 1,
        "ended": 0,
    }
    assert list(figures["counts"]) == [s.value for s in Status]


def test_funnel_volume_and_referral(shop, settings):
    settings.SMS4SATS_REF = None
    figures = stats.funnel()
    assert figures["created"] == 12
    assert figures["paid"] == 9  # six completed, two refunded, one waiting for its code
    assert figures["completed"] == 6
    assert figures["paid_rate"] == pytest.approx(9 / 12)
    assert figures["completed_rate"] == pytest.approx(6 / 9)
    assert figures["overall_rate"] == pytest.approx(6 / 12)
    assert figures["buyers_sats"] == 3000 + 3000 + 4000 + 20000 + 5000 + 900
    assert figures["referral_sats"] is None
    settings.SMS4SATS_REF = "shop@example.com"
    figures = stats.funnel()
    assert figures["referral_sats"] == 3590
    assert figures["referral_address"] == "shop@example.com"


def test_funnel_since(shop):
    figures = stats.funnel(since=timezone.now() - timedelta(days=7))
    assert (figures["created"], figures["paid"], figures["completed"]) == (8, 8, 6)


def test_fund_orders_are_counted_apart(shop):
    assert stats.fund_summary() == {"orders": 1, "credited": 1, "credited_sats": 50000}


def test_orders_per_day(shop):
    figures = stats.orders_per_day(30)
    days = figures["days"]
    assert len(days) == 30
    today = timezone.localdate()
    assert days[-1]["day"] == today
    assert days[0]["day"] == today - timedelta(days=29)
    by_age = {(today - point["day"]).days: point["count"] for point in days}
    assert {age: n for age, n in by_age.items() if n} == {0: 3, 1: 2, 2: 1, 3: 2, 29: 2}
    assert figures["total"] == 10
    assert figures["max"] == 3


def test_time_to_code_percentiles(shop):
    # Receive/rental codes after 10, 20, 30, 40 and 100 s (the send order and the fund order do not count).
    figures = stats.time_to_code()
    assert figures["count"] == 5
    assert figures["p50"] == pytest.approx(30)
    assert figures["p90"] == pytest.approx(76)  # 40 + 0.6 × (100 − 40), like percentile_cont


@pytest.mark.parametrize(
    ("durations", "p50", "p90"),
    [
        ([42], 42, 42),
        ([10, 20], 15, 19),
        (list(range(1, 101)), 50.5, 90.1),
    ],
)
def test_time_to_code_interpolates(db, durations, p50, p90):
    for seconds in durations:
        make_order(status=Status.COMPLETED, paid_after=1, code_after=seconds)
    figures = stats.time_to_code()
    assert figures["count"] == len(durations)
    assert figures["p50"] == pytest.approx(p50)
    assert figures["p90"] == pytest.approx(p90)


def test_time_to_code_without_codes(db):
    make_order(status=Status.UNPAID)
    assert stats.time_to_code() == {"count": 0, "p50": None, "p90": None}


def test_top_countries_and_services(shop):
    countries = stats.top_countries()
    assert [(c["country_code"], c["orders"], c["completed"], c["volume_sats"]) for c in countries] == [
        (187, 7, 3, 26000),
        (16, 2, 1, 5000),
        (43, 2, 1, 4000),
    ]
    assert countries[0]["country_name"] == "USA"
    services = stats.top_services()
    assert [(s["service_code"], s["orders"], s["completed"], s["volume_sats"]) for s in services] == [
        ("tg", 8, 3, 11000),
        ("wa", 2, 1, 4000),
        ("full", 1, 1, 20000),
    ]
    assert stats.top_services(limit=1)[0]["service_name"] == "Telegram"


def test_refunds_by_reason(shop):
    figures = stats.refunds_by_reason()
    assert figures["total"] == 2
    assert figures["total_sats"] == 6000
    assert [(r["reason"], r["orders"], r["sats"]) for r in figures["reasons"]] == [
        ("canceled", 1, 3000),
        ("timeout", 1, 3000),
    ]
    assert figures["reasons"][1]["label"] == "No code arrived in time"


def test_upstream_state(shop, settings):
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "countries: 503")
    state = stats.upstream_state()
    assert state["sms4sats"] == upstream_health.state()  # the one shared view, not a check of its own
    assert state["sms4sats"]["up"] is False and state["sms4sats"]["last_error"] == "countries: 503"
    assert state["due_for_polling"] == 2  # the unpaid order and the fund order; not the one due in a minute
    assert state["workers"] == {"heartbeat_age": None, "alive": False, "max_age": 45}
    record_heartbeat()
    workers = stats.workers_state()
    assert workers["alive"] is True
    assert 0 <= workers["heartbeat_age"] < 5


def sms4sats_card(body):
    return body.split('id="sms4sats-state"', 1)[1].split("</div>\n      </div>", 1)[0]


def test_the_dashboard_shows_the_shared_upstream_state_and_asks_sms4sats_nothing(
    admin_client, db, settings, json_receiver
):
    # sms4sats "is" a local server that records every request: rendering the dashboard must send it none.
    settings.SMS4SATS_API_URL = f"http://127.0.0.1:{json_receiver.port}/api"
    url = reverse("admin:dashboard")

    body = admin_client.get(url).content.decode()
    upstream_cards = body.split('id="upstream"', 1)[1].split("</section>", 1)[0]
    assert upstream_cards.count('class="label">sms4sats') == 1  # one sms4sats card, not two that may disagree
    card = sms4sats_card(body)
    assert upstream_health.state()["up"] is True
    assert "shop-ok" in card and "answering" in card and "not answering" not in card

    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "orderstatus: unreachable (ConnectError)")
    state = upstream_health.state()
    assert state["up"] is False
    card = sms4sats_card(admin_client.get(url).content.decode())
    assert "shop-bad" in card and "not answering" in card and "ConnectError" in card
    assert f"{state['failures']} failed calls in a row" in card
    assert f"since {datetime.fromtimestamp(state['since'], UTC):%H:%M:%S} UTC" in card

    upstream_health.record(True)
    card = sms4sats_card(admin_client.get(url).content.decode())
    assert "shop-ok" in card and "not answering" not in card and "0 failed calls in a row" in card
    assert json_receiver.gets == [] and json_receiver.posts == []


def test_chart_is_inline_svg():
    per_day = {"days": [{"day": timezone.localdate() - timedelta(days=i), "count": i % 4} for i in range(29, -1, -1)]}
    svg = charts.orders_per_day_chart(per_day)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<rect class="bar"') == 30
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert charts.nice_ceiling(0) == 1
    assert charts.nice_ceiling(7) == 10
    assert charts.nice_ceiling(130) == 200
    assert charts.nice_ceiling(5000) == 5000


def test_dashboard_page(admin_client, shop, settings):
    settings.SMS4SATS_REF = None
    response = admin_client.get(reverse("admin:dashboard"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["funnel"]["buyers_sats"] == 35900
    body = response.content.decode()
    assert '<div class="value" id="fig-created">12</div>' in body
    assert '<div class="value" id="fig-paid">9</div>' in body
    assert '<div class="value" id="fig-completed">6</div>' in body
    assert '<div class="value" id="fig-volume">35,900 sats</div>' in body  # grouped: the admin is English
    assert "Set your referral address (Settings)" in body
    assert '<div class="value" id="fig-p50">30 seconds</div>' in body
    assert '<span id="fig-p90">1 min 16 s</span>' in body
    assert "75.0% of created" in body
    assert body.count('<rect class="bar"') == 30 + 30 + 30 + 3  # orders, buyers' and balance sats per day, the funnel
    assert "<script" not in body.split('id="content-main"')[1]  # no JavaScript charts
    assert 'id="status-completed"' in body
    assert "Germany (43)" in body
    assert "No code arrived in time" in body


def test_dashboard_with_referral_and_period(admin_client, shop, settings):
    settings.SMS4SATS_REF = "shop@example.com"
    response = admin_client.get(reverse("admin:dashboard"), {"period": "7d"})
    body = response.content.decode()
    assert response.context["figures"]["funnel"]["created"] == 8
    assert '<div class="value" id="fig-referral">3,590 sats</div>' in body
    assert "shop@example.com" in body


def test_admin_index_links_to_the_dashboard(admin_client, db):
    body = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:dashboard") in body
    assert reverse("admin:prepaid_account") in body


def test_dashboard_shows_the_creation_lag_rentals_and_unsettled_orders(admin_client, db):
    now = timezone.now()
    make_order(Status.NEW, quoted_sats=1, created_at=now - timedelta(minutes=5))
    make_order(Status.ACTIVE, Kind.RENTAL, quoted_sats=1, rental_ends_at=now + timedelta(7))
    make_order(Status.UNPAID, quoted_sats=1, reconcile_abandoned_at=now)
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    lag = body.split('id="creation-lag"', 1)[1][:300]
    assert "shop-bad" in lag and "5 min" in lag
    assert '<div class="value">1</div>' in body.split('id="active-rentals"', 1)[1][:200]
    assert "shop-bad" in body.split('id="needs-a-look"', 1)[1][:200]


# --- Sats and referral income per day -----------------------------------------------------------------


def test_sats_and_referral_per_day(shop, settings):
    settings.SMS4SATS_REF = "shop@example.com"
    today = timezone.now().date()
    # Rentals are charged when their number is given (then active, later ended): counted on that day.
    make_order(
        status=Status.ACTIVE, kind=Kind.RENTAL, created_at=day_start(5), number_at=day_start(4), invoice_sats=7000
    )
    make_order(status=Status.ENDED, kind=Kind.RENTAL, created_at=day_start(41), number_at=day_start(40), invoice_sats=9)
    figures = stats.sats_per_day(30)
    assert len(figures["days"]) == 30 and figures["days"][-1]["day"] == today
    by_age = {(today - p["day"]).days: (p["sats"], p["referral"]) for p in figures["days"] if p["sats"]}
    # By the day of the charge (the code): completed orders 1-3 today, 4-5 yesterday, the SMS two days ago;
    # never refunded, expired or unpaid ones, nor the fund order; the ended rental is older than 30 days.
    assert by_age == {0: (10000, 1000), 1: (25000, 2500), 2: (900, 90), 4: (7000, 700)}
    assert figures["total"] == 42900
    assert figures["referral_total"] == 4290
    assert figures["referral_address"] == "shop@example.com"
    settings.SMS4SATS_REF = None
    assert stats.sats_per_day(30)["referral_total"] == 0


def test_sats_charts_show_the_values_labelled(shop, settings, admin_client):
    settings.SMS4SATS_REF = "shop@example.com"
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    sats = body.split('id="sats-per-day"')[1].split("</section>")[0]
    referral = body.split('id="referral-per-day"')[1].split("</section>")[0]
    assert "Sats charged per day, paid by buyers, last 30 days (35,900 sats)" in sats
    assert "Referral income per day, last 30 days (3,590 sats)" in referral
    assert "shop@example.com" in referral
    today = timezone.now().date().strftime("%b %d")
    yesterday = (timezone.now().date() - timedelta(days=1)).strftime("%b %d")
    assert f'data-value="10000"><title>{today}: 10000 sats</title>' in sats
    assert f'data-value="25000"><title>{yesterday}: 25000 sats</title>' in sats
    assert f'data-value="1000"><title>{today}: 1000 sats</title>' in referral
    assert f'data-value="2500"><title>{yesterday}: 2500 sats</title>' in referral
    assert sats.count('<rect class="bar"') == referral.count('<rect class="bar"') == 30
    assert 'aria-label="Sats charged per day, paid by buyers, last 30 days"' in sats


def test_no_referral_chart_without_an_address(shop, settings, admin_client):
    settings.SMS4SATS_REF = None
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    referral = body.split('id="referral-per-day"')[1].split("</section>")[0]
    assert "<svg" not in referral
    assert "No referral address: set it (Settings)" in referral
