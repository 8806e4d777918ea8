"""Every promise true for its kind (issue #25, part 3): for each kind of order in each state, the order page says
what sms4sats' rules make true about the money, and never another kind's promise. Also: the receipt's and How it
works' terms, the expired page's late-payment watch, the fiat that leaves a finished order, Auto-Select's country."""

import dataclasses
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle
from orders.models import Kind, Status
from tests.factories import make_order, upstream_status

pytestmark = pytest.mark.django_db

CODE = "charged only when the code arrives"
SENT = "charged once the SMS is sent"
NOT_REFUNDABLE = "not refundable"
NOTHING_CHARGED = "Nothing was charged"
NO_MONEY = "No money moved"

# (kind, status): the sentences the page must say. A rental is charged once its number is given and is then not
# refundable; a code and an SMS are charged only when delivered.
TRUE = {
    (Kind.RECEIVE, Status.UNPAID): [CODE],
    (Kind.RECEIVE, Status.HELD): ["It is charged only when the code arrives"],
    (Kind.RECEIVE, Status.WAITING_CODE): ["It is charged only when the code arrives"],
    (Kind.RECEIVE, Status.COMPLETED): ["was charged now that the code has arrived"],
    (Kind.RECEIVE, Status.REFUNDED): [NOTHING_CHARGED],
    (Kind.RECEIVE, Status.EXPIRED): [NOTHING_CHARGED],
    (Kind.RECEIVE, Status.FAILED): [NO_MONEY],
    (Kind.SEND, Status.UNPAID): [SENT],
    (Kind.SEND, Status.HELD): ["It is charged once the SMS is sent"],
    (Kind.SEND, Status.COMPLETED): ["was charged when the SMS was sent"],
    (Kind.SEND, Status.REFUNDED): [NOTHING_CHARGED],
    (Kind.SEND, Status.EXPIRED): [NOTHING_CHARGED],
    (Kind.SEND, Status.FAILED): [NO_MONEY],
    (Kind.RENTAL, Status.UNPAID): ["only if sms4sats gives no number", NOT_REFUNDABLE],
    (Kind.RENTAL, Status.HELD): ["If none is available, it returns to your wallet automatically", NOT_REFUNDABLE],
    (Kind.RENTAL, Status.ACTIVE): [NOT_REFUNDABLE],
    (Kind.RENTAL, Status.ENDED): [NOT_REFUNDABLE],
    (Kind.RENTAL, Status.REFUNDED): [NOTHING_CHARGED],
    (Kind.RENTAL, Status.EXPIRED): [NOTHING_CHARGED],
    (Kind.RENTAL, Status.FAILED): [NO_MONEY],
}
# What is false for a kind, in any state.
FALSE = {
    Kind.RECEIVE: ["SMS is sent", NOT_REFUNDABLE],
    Kind.SEND: ["code arrives", NOT_REFUNDABLE],
    Kind.RENTAL: ["code arrives", "if none comes", "SMS is sent", "charged only when"],
}


def order_in(kind, status):
    fields = {}
    if status in (Status.WAITING_CODE, Status.COMPLETED, Status.ACTIVE, Status.ENDED) and kind != Kind.SEND:
        fields["number"] = "4915123456789"
    if status == Status.COMPLETED and kind == Kind.RECEIVE:
        fields["code"] = "123456"
    if kind == Kind.RENTAL:
        fields.update(service_code="full", service_name="Full rental", rental_weeks=2)
        if status in (Status.ACTIVE, Status.ENDED):
            fields["rental_ends_at"] = timezone.now() + timedelta(days=3 if status == Status.ACTIVE else -1)
    return make_order(status, kind, **fields)


def status_part(client, order):
    return client.get(reverse("orders:status", args=[order.public_id])).content.decode()


def check(html, kind, status):
    # The page's own content: the footer's general line ("charged only when you get what you paid for") holds for all.
    text = " ".join(html.split("</main>")[0].split())
    for sentence in TRUE[kind, status]:
        assert sentence in text, f"{kind} {status}: missing {sentence!r}"
    for sentence in FALSE[kind]:
        assert sentence not in text, f"{kind} {status}: says {sentence!r}, false for a {kind}"


@pytest.mark.parametrize(("kind", "status"), list(TRUE))
def test_the_money_sentence_is_true_for_every_kind_and_state(client, kind, status):
    order = order_in(kind, status)
    check(client.get(order.get_absolute_url()).content.decode(), kind, status)
    check(status_part(client, order), kind, status)


@pytest.mark.parametrize(("kind", "status"), [key for key in TRUE if key[1] in (Status.UNPAID, Status.HELD)])
def test_the_outage_notice_is_true_for_every_kind(client, sms4sats_down, kind, status):
    html = " ".join(status_part(client, order_in(kind, status)).split())
    assert "sms4sats is not answering right now." in html
    for sentence in FALSE[kind]:
        assert sentence not in html


def test_the_rental_outage_notice_says_what_returns_and_what_does_not(client, sms4sats_down):
    held = " ".join(status_part(client, order_in(Kind.RENTAL, Status.HELD)).split())
    assert "if sms4sats gives no number, it returns to your wallet automatically" in held
    active = " ".join(status_part(client, order_in(Kind.RENTAL, Status.ACTIVE)).split())
    assert "Your payment is safe" not in active  # paid for good: nothing to promise


@pytest.mark.parametrize(
    ("kind", "status", "said"),
    [
        (Kind.RECEIVE, Status.COMPLETED, "When the code arrived."),
        (Kind.SEND, Status.COMPLETED, "When the SMS was sent."),
        (Kind.RENTAL, Status.ACTIVE, "a rental is not refundable once it is given"),
    ],
)
def test_the_receipt_says_when_its_kind_was_charged(client, kind, status, said):
    order = order_in(kind, status)
    html = client.get(reverse("orders:receipt", args=[order.public_id])).content.decode()
    text = client.get(reverse("orders:receipt_file", args=[order.public_id])).content.decode()
    assert said in html and said in text


def test_how_it_works_states_the_rental_terms(client):
    html = " ".join(client.get(reverse("orders:how")).content.decode().split())
    assert "<strong>Rent a number:</strong> charged once sms4sats gives you the number" in html
    assert "once the number is given, a rental is not refundable" in html


def test_an_expired_invoice_page_says_what_it_still_watches_for_and_until_when(client, settings):
    expired_at = timezone.now() - timedelta(minutes=2)
    order = make_order(Status.EXPIRED, invoice_expires_at=expired_at, next_poll_at=timezone.now())
    html = " ".join(client.get(order.get_absolute_url()).content.decode().split())
    until = expired_at + timedelta(seconds=settings.EXPIRY_GRACE_SECONDS)
    assert f"{until:%H:%M} UTC</time> this page still watches for a payment made at the last moment" in html
    assert "This page updates by itself." not in html


def test_a_finished_order_drops_the_headers_fiat_when_the_live_part_turns_final(client):
    order = order_in(Kind.RECEIVE, Status.COMPLETED)
    part = client.get(reverse("orders:status", args=[order.public_id]), headers={"HX-Request": "true"})
    assert '<span id="order-fiat" hx-swap-oob="delete"></span>' in part.content.decode()
    live = make_order(Status.UNPAID)
    part = client.get(reverse("orders:status", args=[live.public_id]), headers={"HX-Request": "true"})
    assert 'id="order-fiat"' not in part.content.decode()


@pytest.mark.parametrize(
    ("said", "number", "expected"),
    [("India", "919876543210", "India"), ("", "6281234567890", "Indonesia"), ("", "12025550123", "United States")],
)
def test_an_auto_select_order_names_the_country_of_its_number(said, number, expected):
    order = make_order(Status.HELD, country_code=999, country_name="Auto-Select")
    answer = upstream_status(paid=True, number=number)
    lifecycle.apply_status(order, dataclasses.replace(answer, country=said))
    order.refresh_from_db()
    assert order.status == Status.WAITING_CODE
    assert order.country_name == expected and order.country_code == 999


def test_an_order_for_a_chosen_country_keeps_its_name():
    order = make_order(Status.HELD)  # USA, chosen by the buyer
    lifecycle.apply_status(order, upstream_status(paid=True, number="919876543210"))
    order.refresh_from_db()
    assert order.country_name == "USA"


def test_an_auto_select_order_names_its_numbers_country_in_the_buyers_language():
    from django.utils import translation

    order = make_order(Status.WAITING_CODE, country_code=999, country_name="Germany", number="4915112345678")
    with translation.override("es"):
        assert order.local_country_name == "Alemania"
    with translation.override("ru"):
        assert order.local_country_name == "Германия"
    order.number = ""
    with translation.override("es"):
        assert order.local_country_name != "Germany"  # no number yet: still Auto-Select, in Spanish
