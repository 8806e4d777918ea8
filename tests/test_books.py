"""The operator's books on one known set of orders: buyers' invoices and the prepaid balance counted apart on the
dashboard, the stats, the daily summary, /metrics and the CSV; the referral only on what buyers paid; the fiat
value at the rate stored when the order was paid. Every figure below is worked out by hand from ``books``."""

import csv
import io
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerts import checks
from backoffice import stats
from orders import fiat, lifecycle
from orders.models import Kind, Order, RefundReason, Status
from tests.factories import make_order, upstream_status

USD = {"fiat_currency": "USD", "fiat_rate": Decimal("100000")}  # 1 sat = 0.001 USD


@pytest.fixture
def books(db, settings):
    """Four orders paid by buyers, four paid from the balance (one a replacement), an unpaid one, a top-up."""
    settings.SMS4SATS_REF = "shop@example.com"
    now = timezone.now()
    earlier = now - timedelta(minutes=30)
    o = {}
    # Paid by buyers: a code (3,000), a rental's number (20,000), a sent SMS (900), a refunded code (1,500).
    o["code"] = make_order(Status.COMPLETED, completed_at=now, invoice_sats=3000, created_at=earlier, **USD)
    o["rental"] = make_order(Status.ACTIVE, Kind.RENTAL, number_at=now, invoice_sats=20000, created_at=earlier, **USD)
    o["sms"] = make_order(Status.COMPLETED, Kind.SEND, completed_at=now, quoted_sats=900, created_at=earlier)
    o["timeout"] = make_order(Status.REFUNDED, refund_reason=RefundReason.TIMEOUT, created_at=earlier, **USD)
    # Paid from the balance: the timed-out order's replacement (2,000), a canceled one (1,800, back to the
    # balance), an SMS (700) and an ended rental (5,000).
    balance = {"paid_from_balance": True, "bolt11": "", "created_at": earlier}
    o["replacement"] = make_order(
        Status.COMPLETED, completed_at=now, quoted_sats=2000, replaces=o["timeout"], **balance, **USD
    )
    o["canceled"] = make_order(Status.REFUNDED, refund_reason=RefundReason.CANCELED, quoted_sats=1800, **balance)
    o["own_sms"] = make_order(Status.COMPLETED, Kind.SEND, completed_at=now, quoted_sats=700, **balance)
    o["own_rental"] = make_order(Status.ENDED, Kind.RENTAL, number_at=now, quoted_sats=5000, **balance)
    o["unpaid"] = make_order(Status.UNPAID, created_at=earlier)
    o["fund"] = make_order(Status.COMPLETED, Kind.FUND, quoted_sats=50000, completed_at=now, created_at=earlier)
    return o


def test_the_funnel_counts_who_paid(books):
    figures = stats.funnel()
    assert figures["created"] == 9  # the top-up apart
    assert (figures["paid"], figures["paid_by_buyers"], figures["paid_from_balance"]) == (8, 4, 4)
    assert figures["buyers_sats"] == 3000 + 20000 + 900
    assert figures["balance_sats"] == 2000 + 700 + 5000
    assert figures["referral_sats"] == 300 + 2000 + 90  # none on the balance's 7,700


def test_no_referral_address_no_referral(books, settings):
    settings.SMS4SATS_REF = None
    assert stats.funnel()["referral_sats"] is None
    assert stats.sats_per_day(30)["referral_total"] == 0


def test_per_day_refunds_and_tops(books):
    per_day = stats.sats_per_day(30)
    assert (per_day["total"], per_day["balance_total"], per_day["referral_total"]) == (23900, 7700, 2390)
    assert per_day["days"][-1] == {
        "day": timezone.now().date(),
        "sats": 23900,
        "balance_sats": 7700,
        "referral": 2390,
    }
    refunds = stats.refunds_by_reason()
    assert [(r["reason"], r["orders"], r["sats"], r["balance_sats"]) for r in refunds["reasons"]] == [
        ("canceled", 1, 0, 1800),
        ("timeout", 1, 1500, 0),
    ]
    assert (refunds["total"], refunds["total_sats"], refunds["total_balance_sats"]) == (2, 1500, 1800)
    usa = stats.top_countries()[0]
    assert (usa["country_code"], usa["volume_sats"], usa["balance_sats"]) == (187, 23000, 7000)


def test_the_dashboard_shows_each_figure(books, admin_client):
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert '<div class="value" id="fig-volume">23,900 sats</div>' in body
    assert '<div class="value" id="fig-balance-volume">7,700 sats</div>' in body
    assert '<div class="value" id="fig-referral">2,390 sats</div>' in body
    assert (
        '<span id="fig-paid-buyers">4</span> by buyers, <span id="fig-paid-balance">4</span> from the balance' in body
    )
    assert "paid from the balance, last 30 days (7,700 sats)" in body
    assert "+ 1,800 to the balance" in body  # the canceled balance order's refund, apart from the buyers'


def test_the_daily_summary_says_who_paid(books):
    text = checks.summary_text(timezone.now())
    assert "charged 23,900 sats paid by buyers and 7,700 sats paid from the prepaid balance (4 orders)" in text
    assert "referral earned: 2,390 sats (on what buyers paid)" in text


def test_metrics_count_who_paid(books, client, settings):
    settings.METRICS_TOKEN = "t" * 32
    settings.METRICS_ALLOWED_IPS = []
    response = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }
    assert samples[("sms4sats_shop_charged_sats", (("paid_with", "invoice"),))] == 23900
    assert samples[("sms4sats_shop_charged_sats", (("paid_with", "balance"),))] == 7700
    assert samples[("sms4sats_shop_orders_paid", (("paid_with", "balance"),))] == 4
    assert samples[("sms4sats_shop_referral_sats", ())] == 2390


def export(client, params=None):
    response = client.get(reverse("admin:orders_order_export"), params or {})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_has_the_books_and_totals(books, admin_client):
    rows = {row["public_id"]: row for row in export(admin_client)}

    def row(name):
        return rows[str(books[name].public_id)]

    assert {k: row("code")[k] for k in ("paid_with", "charged_sats", "referral_sats", "fiat_currency")} == {
        "paid_with": "invoice",
        "charged_sats": "3000",
        "referral_sats": "300",
        "fiat_currency": "USD",
    }
    assert row("code")["fiat_value"] == "3.00"
    assert row("rental")["fiat_value"] == "20.00"
    assert (row("timeout")["charged_sats"], row("timeout")["referral_sats"]) == ("0", "0")  # refunded
    assert row("timeout")["fiat_value"] == "0.00"  # paid at that rate, then returned: nothing charged
    assert (row("replacement")["paid_with"], row("replacement")["charged_sats"]) == ("balance", "2000")
    assert row("replacement")["referral_sats"] == "0"
    assert row("sms")["fiat_value"] == ""  # no rate was fresh when it was paid
    assert row("unpaid")["fiat_value"] == "" and row("unpaid")["charged_sats"] == "0"
    assert (row("fund")["paid_with"], row("fund")["charged_sats"]) == ("", "0")  # a top-up, not a sale

    totals = {k: v for k, v in rows.items() if k.startswith("TOTAL")}
    assert list(totals) == [
        "TOTAL the buyer's invoice",
        "TOTAL the prepaid balance",
        "TOTAL fund",
        "TOTAL all",
    ]
    by_buyers = totals["TOTAL the buyer's invoice"]
    assert (by_buyers["status"], by_buyers["charged_sats"], by_buyers["referral_sats"]) == ("5 orders", "23900", "2390")
    assert (by_buyers["fiat_currency"], by_buyers["fiat_value"]) == ("USD", "23.00")
    balance = totals["TOTAL the prepaid balance"]
    assert (balance["status"], balance["charged_sats"], balance["referral_sats"], balance["fiat_value"]) == (
        "4 orders",
        "7700",
        "0",
        "2.00",
    )
    everything = totals["TOTAL all"]
    assert (everything["status"], everything["charged_sats"], everything["referral_sats"]) == (
        "10 orders",
        "31600",
        "2390",
    )


def test_the_csv_totals_a_date_range_and_a_filter(books, admin_client):
    # The day the orders were made (half an hour ago): not today's date, which differs just after midnight UTC.
    day = books["code"].created_at.date().isoformat()
    rows = export(admin_client, {"created_from": day, "created_to": day, "paid_with": "balance"})
    assert [r["public_id"] for r in rows if r["public_id"].startswith("TOTAL")] == [
        "TOTAL the prepaid balance",
        "TOTAL all",
    ]
    assert rows[-1]["charged_sats"] == "7700"


def test_the_list_shows_and_filters_who_paid(books, admin_client):
    changelist = reverse("admin:orders_order_changelist")
    body = admin_client.get(changelist).content.decode()
    assert '<td class="field-paid_with_short">balance</td>' in body
    assert "By paid with" in body or "paid with" in body
    listed = admin_client.get(changelist, {"paid_with": "balance"}).context["cl"].result_list
    assert {o.pk for o in listed} == {books[n].pk for n in ("replacement", "canceled", "own_sms", "own_rental")}
    listed = admin_client.get(changelist, {"paid_with": "invoice"}).context["cl"].result_list
    assert books["replacement"].pk not in {o.pk for o in listed}


# --- The rate is stored when the order is paid -------------------------------------------------------------


@pytest.fixture
def rates(settings):
    settings.FIAT_RATES_URL = "http://127.0.0.1:9/ticker"  # never fetched here: the cache is filled by hand
    settings.FIAT_CURRENCIES = ["EUR", "USD"]
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": {"USD": "100000", "EUR": "90000.5"}})
    yield
    cache.delete(fiat.CACHE_KEY)


def test_the_rate_is_stored_at_payment(db, rates):
    order = make_order(Status.UNPAID, upstream_id="up-paid")
    lifecycle.apply_status(order, upstream_status(paid=True))
    order.refresh_from_db()
    assert order.status == Status.HELD
    assert (order.fiat_currency, order.fiat_rate) == ("EUR", Decimal("90000.5"))  # the first of FIAT_CURRENCIES


def test_a_balance_payment_stores_the_rate_too(db, rates):
    order = make_order(Status.CREATING, paid_from_balance=True)
    lifecycle.accept_balance_payment(order, "up-bal", "paid")
    assert Order.objects.get(pk=order.pk).fiat_currency == "EUR"


def test_no_fresh_rate_nothing_stored(db, settings):
    settings.FIAT_RATES_URL = ""
    order = make_order(Status.UNPAID, upstream_id="up-norate")
    lifecycle.apply_status(order, upstream_status(paid=True))
    order.refresh_from_db()
    assert order.status == Status.HELD and order.fiat_rate is None and order.fiat_currency == ""
