"""The buyer's pages around the picker and the order: search terms, the no-JavaScript path, "Try again",
the tab title, the node info and the status poll's htmx answers."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.catalog import CountryEntry
from orders.models import Kind, RefundReason, SmsStatus, Status
from shop import picker
from tests.factories import make_order_in_germany as make
from tests.test_views_order import page, status

pytestmark = pytest.mark.django_db

PAST = timezone.now() - timedelta(minutes=20)
NODE = "035b04e00521a8d50894e813c72576d2a03a09cd940be074b7f2e35e0a01d7d12d"


def test_every_country_name_and_short_form_is_a_search_term():
    ukraine, england, usa = picker.country_choices(  # sorted by their names in the page's language
        [CountryEntry(16, "England"), CountryEntry(187, "USA"), CountryEntry(1, "Ukraine")]
    )
    # The label (CLDR's name in the page's language) first, then sms4sats' name and the other names
    assert england.name == "United Kingdom"
    assert england.search_names.split("|")[:3] == ["United Kingdom", "England", "Reino Unido"]
    assert "Britain" in england.search_names.split("|")
    assert england.search_codes == "GB|UK"
    assert {"United States", "United States of America", "America"} <= set(usa.search_names.split("|"))
    assert usa.search_codes == "US|USA"
    assert "UK" not in ukraine.search_codes.split("|")
    unknown = picker.country_choices([CountryEntry(4242, "Atlantis")])[0]
    assert (unknown.search_names, unknown.search_codes) == ("Atlantis", "")


def test_the_options_carry_their_search_terms(client, upstream):
    html = client.get("/").content.decode()
    assert re.search(r'<option data-names="United Kingdom\|England\|[^"]*" data-codes="GB\|UK" value="16">', html)
    assert 'data-names="Telegram" data-codes="tg" value="tg"' in html
    assert 'id="country-filter-status" role="status"' in html


def test_show_services_without_javascript_keeps_the_csrf_token_out_of_the_url(upstream):
    client = Client(enforce_csrf_checks=True)
    html = client.get("/").content.decode()
    button = re.search(r"<noscript><button[^>]*>", html).group(0)
    assert f'formaction="{reverse("orders:show_services")}"' in button and "formmethod" not in button
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(reverse("orders:show_services"), {"csrfmiddlewaretoken": token, "country": "43"})
    assert response.status_code == 302 and response["Location"] == "/?country=43"
    assert 'value="43" selected>Germany' in client.get(response["Location"]).content.decode()
    assert client.post(reverse("orders:show_services"), {"csrfmiddlewaretoken": token, "country": "x"})[
        "Location"
    ] == reverse("orders:home")
    assert Client(enforce_csrf_checks=True).post(reverse("orders:show_services"), {"country": "43"}).status_code == 403


def test_try_again_keeps_the_country_and_the_service(client, upstream):
    order = make(Status.REFUNDED, refund_reason=RefundReason.TIMEOUT)
    again = re.search(r'<a class="btn" href="([^"]+)">Try again</a>', page(client, order)).group(1)
    assert again == "/?country=43&amp;service=tg"
    html = client.get("/?country=43&service=tg").content.decode()
    assert 'value="43" selected>Germany' in html
    assert 'value="tg" selected>Telegram' in html

    rental = make(Status.FAILED, kind=Kind.RENTAL, country_code=16, country_name="England", rental_weeks=2)
    assert 'href="/rent/?country=16">Try again' in page(client, rental)
    assert re.search(r'value="16" required checked', client.get("/rent/?country=16").content.decode())
    sms = make(Status.REFUNDED, kind=Kind.SEND, refund_reason=RefundReason.SMS_FAILED)
    assert f'href="/send/?again={sms.public_id}">Try again' in page(client, sms)  # the form comes back filled


@pytest.mark.parametrize(
    ("state", "kind", "fields", "title"),
    [
        (Status.CREATING, Kind.RECEIVE, {}, "Number order · Preparing the invoice"),
        (Status.UNPAID, Kind.RECEIVE, {}, "Number order · Waiting for payment"),
        (Status.HELD, Kind.RECEIVE, {}, "Number order · Paid, getting a number"),
        (Status.WAITING_CODE, Kind.RECEIVE, {"number": "4915112345678"}, "Number order · Waiting for the code"),
        (Status.COMPLETED, Kind.RECEIVE, {"number": "4915112345678", "code": "123456"}, "Number order · Code received"),
        (Status.EXPIRED, Kind.RECEIVE, {}, "Number order · Invoice expired"),
        (Status.FAILED, Kind.RENTAL, {"rental_weeks": 2}, "Rental · Not created"),
        (Status.HELD, Kind.SEND, {}, "SMS · Sending"),
        (Status.COMPLETED, Kind.SEND, {"sms_status": SmsStatus.DELIVERED}, "SMS · Delivered"),
        (Status.REFUNDED, Kind.SEND, {"refund_reason": RefundReason.SMS_FAILED}, "SMS · Refunded"),
        (Status.ACTIVE, Kind.RENTAL, {"number": "447911123456", "rental_weeks": 2}, "Rental · Number active"),
        (Status.ENDED, Kind.RENTAL, {"number": "447911123456", "rental_weeks": 2}, "Rental · Ended"),
        (Status.UNPAID, Kind.RECEIVE, {"invoice_expires_at": PAST}, "Number order · Waiting for sms4sats to confirm"),
    ],
)
def test_the_tab_title_follows_the_state(client, state, kind, fields, title):
    order = make(state, kind=kind, **fields)
    assert f"<title>{title} · SMS for sats</title>" in page(client, order)
    # The status part carries the title for htmx (which puts it on the tab), the page's own part does not.
    assert status(client, order, **{"HX-Request": "true"}).content.decode().startswith(f"<title>{title} · ")
    assert "<title>" not in status(client, order).content.decode()


def test_the_status_part_polls_with_its_version_in_hx_headers(client):
    order = make(Status.UNPAID)
    html = status(client, order, **{"HX-Request": "true"}).content.decode()
    version = re.search(r'data-version="([^"]+)"', html).group(1)
    assert f'hx-headers=\'{{"X-Order-Version": "{version}"}}\'' in html
    assert status(client, order, **{"HX-Request": "true", "X-Order-Version": version}).status_code == 204


def test_status_headings_take_focus_and_countdowns_are_outside_live_regions(client):
    order = make(Status.UNPAID)
    html = page(client, order)
    assert '<h2 tabindex="-1" class="status-title">Pay with Lightning</h2>' in html
    assert 'aria-live="polite"' not in html.split('<section id="order-status"')[1].split("</section>")[0]
    assert 'data-announce-at="60"' in html
    assert '<p id="announcer" class="visually-hidden" role="status" aria-live="polite"></p>' in html


def test_copy_link_and_node_info(client):
    order = make(Status.UNPAID)
    html = page(client, order)
    assert f'data-copy="http://testserver{order.get_absolute_url()}" hidden>Copy link to this order' in html
    assert "Trouble paying?" in html and f'data-copy="{NODE}"' in html and "direct channel" in html
    how = client.get(reverse("orders:how")).content.decode()
    assert "Trouble paying?" in how and f'data-copy="{NODE}"' in how
    assert "Trouble paying?" not in page(client, make(Status.HELD))  # only while there is an invoice to pay


def test_a_completed_order_has_a_receipt_to_print_and_to_download(client):
    order = make(Status.COMPLETED, number="4915112345678", code="482913", payment_hash="ab" * 32)
    order_page = page(client, order)
    assert f'href="/o/{order.public_id}/receipt">Receipt</a>' in order_page
    html = client.get(reverse("orders:receipt", args=[order.public_id])).content.decode()
    assert "One-time number for an SMS code: Telegram, Germany" in html
    assert "1,500 sats" in html and "ab" * 32 in html and "+4915112345678" in html
    assert f"http://testserver/o/{order.public_id}/" in html
    assert "data-print hidden>Print</button>" in html
    assert "482913" not in html  # the code stays on the order page

    download = client.get(reverse("orders:receipt_file", args=[order.public_id]))
    assert download["Content-Type"] == "text/plain; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="sms4sats-receipt-{order.public_id}.txt"'
    text = download.content.decode()
    assert "Amount paid:   1500 sats (Lightning)" in text
    assert f"Payment hash:  {'ab' * 32}" in text
    assert f"Order:         http://testserver/o/{order.public_id}/" in text
    assert f"Paid:          {order.paid_at:%Y-%m-%d %H:%M:%S} UTC" in text

    rental = make(
        Status.ACTIVE, kind=Kind.RENTAL, number="447911123456", rental_weeks=2, country_code=16, country_name="England"
    )
    assert f'href="/o/{rental.public_id}/receipt">Receipt</a>' in page(client, rental)
    html = client.get(reverse("orders:receipt", args=[rental.public_id])).content.decode()
    assert "Number rental, United Kingdom, 2 weeks" in html
    sms = make(Status.COMPLETED, kind=Kind.SEND, sms_status=SmsStatus.DELIVERED)
    assert "One SMS to +447911123456" in client.get(reverse("orders:receipt", args=[sms.public_id])).content.decode()


@pytest.mark.parametrize("state", [Status.UNPAID, Status.HELD, Status.REFUNDED, Status.EXPIRED])
def test_only_a_completed_order_has_a_receipt(client, state):
    order = make(state)
    assert client.get(reverse("orders:receipt", args=[order.public_id])).status_code == 404
    assert client.get(reverse("orders:receipt_file", args=[order.public_id])).status_code == 404
    assert "Receipt" not in page(client, order)


def test_error_pages_say_what_happened_without_debug_wording(client, settings, rf):
    from shop.views import server_error

    settings.DEBUG = False
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert "This page does not exist" in html and 'aria-label="Main"' in html and "shop.css" in html
    assert "<style" not in html and " style=" not in html
    crash = server_error(rf.get("/"))  # rendered without a request context: nothing may need one
    assert crash.status_code == 500
    from django.db import OperationalError

    try:
        raise OperationalError("connection refused")  # the database away: an outage, the same calm page
    except OperationalError:
        outage = server_error(rf.get("/"))
    assert outage.status_code == 503 and outage["Retry-After"] == "5"
    assert "Something went wrong on our side" in outage.content.decode()
    assert (
        "Something went wrong on our side" in crash.content.decode() and 'aria-label="Main"' in crash.content.decode()
    )
    from django.contrib.sessions.backends.cache import SessionStore

    from shop.views import _too_many

    request = rf.post("/")
    request.session = SessionStore()
    slow = _too_many(request)
    assert slow.status_code == 429 and slow["Retry-After"] == "60"
    assert "Slow down a little" in slow.content.decode() and 'aria-label="Main"' in slow.content.decode()
    strict = Client(enforce_csrf_checks=True)
    forbidden = strict.post(reverse("orders:send"), {"phone": "+447911123456", "message": "hi"})
    assert forbidden.status_code == 403
    text = forbidden.content.decode()
    assert "This form has expired" in text and "DEBUG" not in text and "CSRF" not in text and "<style" not in text


def finished(cc, name, codes, refunds, service="tg"):
    for _ in range(codes):
        make(Status.COMPLETED, country_code=cc, country_name=name, service_code=service, code="1")
    for _ in range(refunds):
        make(Status.REFUNDED, country_code=cc, country_name=name, service_code=service)


def suggestion(client, cc, service="tg"):
    html = client.get("/", {"country": cc, "service": service}).content.decode()
    found = re.search(r'<p class="suggestion">.*?</p>', html)
    return found.group(0) if found else ""


def test_try_again_suggests_the_country_with_the_best_recent_success(client, upstream):
    finished(16, "England", codes=9, refunds=1)
    finished(187, "USA", codes=6, refunds=6)
    finished(43, "Germany", codes=1, refunds=4)
    finished(0, "Russia", codes=3, refunds=0)  # too few orders to mean anything
    finished(16, "England", codes=0, refunds=10, service="wa")  # another service
    html = suggestion(client, 43)  # where "Try again" leads after a Telegram number in Germany failed
    assert "codes for Telegram arrived most often with numbers from <strong>United Kingdom</strong>" in html
    assert "9 of 10 orders here in the last 7 days" in html
    assert 'href="/?country=16&amp;service=tg">Choose United Kingdom</a>' in html
    assert suggestion(client, 16) == ""  # already the best
    assert "suggestion" not in client.get("/", {"country": 43}).content.decode()  # not on a plain visit


def test_no_suggestion_without_enough_data_or_a_better_country(client, upstream):
    assert suggestion(client, 43) == ""  # no data
    finished(16, "England", codes=4, refunds=6)
    assert suggestion(client, 43) == ""  # 40 %: not good enough
    finished(187, "USA", codes=8, refunds=2)
    assert "United States" in suggestion(client, 43)
    finished(43, "Germany", codes=10, refunds=0)
    assert suggestion(client, 43) == ""  # the buyer's own country does better


def test_a_service_option_names_its_price_before_the_numbers_left(client, upstream):
    from orders import catalog

    catalog.refresh_all()  # what beat does at start and every 5 minutes
    html = client.get("/").content.decode()
    assert ">Telegram · 1,500 sats · 120 available</option>" in html  # a phone cuts the end of long options


def test_services_without_a_country_ask_for_one_without_an_error(client, upstream):
    for params in ({}, {"country": ""}):  # the search's "choose one of the matches" sends no country
        html = client.get(reverse("orders:services"), params).content.decode()
        assert '<p class="hint" id="service-error">Choose a country from the list.</p>' in html
        assert "field-error" not in html
    assert "field-error" in client.get(reverse("orders:services"), {"country": "x"}).content.decode()
