"""The fiat equivalent on the buyer's pages: shown second to the sats while the rates are fresh, hidden when
they are stale or absent; the buyer's currency (chosen and remembered, else from the language)."""

import json
import re
import time

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from orders import fiat
from orders.models import Status
from tests.factories import make_order_in_germany as make
from tests.local_servers import LocalHttpServer
from tests.test_fiat_rates import TICKER
from tests.test_fuzz_forms import extra, fuzz, text

pytestmark = pytest.mark.django_db

RATES = {"USD": "100000", "EUR": "90000", "GBP": "80000", "BRL": "500000", "RUB": "8000000"}


@pytest.fixture
def fresh_rates(settings):
    settings.FIAT_CURRENCIES = ["USD", "EUR", "GBP", "BRL", "RUB"]
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": RATES})


def fiat_texts(html):
    """What each fiat equivalent says to the eye ("≈ 2.10 USD"), without the words for screen readers."""
    spans = re.findall(
        r'<span class="fiat"><span aria-hidden="true">([^<]*)</span><span class="visually-hidden">[^<]*</span>'
        r"([^<]*(?:<a [^>]*>[^<]*</a>)?)</span>",
        html,
    )
    visible = [sign + rest for sign, rest in spans]
    return [" ".join(re.sub(r"<[^>]+>", "", text).split()) for text in visible]


def test_the_price_shows_the_fiat_equivalent_after_the_sats(client, upstream, fresh_rates):
    html = client.get(reverse("orders:price"), {"country": 43, "service": "tg"}).content.decode()
    assert fiat_texts(html) == ["≈ 2.10 USD"]  # 2,100 sats at 100,000 USD per bitcoin
    assert html.index("2,100") < html.index("sats") < html.index('class="fiat"')  # sats first
    assert '<span class="visually-hidden">about</span>' in html
    assert 'aria-label="USD: change the currency"' in html


@pytest.mark.parametrize("rates", ["stale", "absent", "off"])
def test_no_fiat_when_the_rates_are_stale_absent_or_off(client, upstream, settings, rates):
    if rates == "stale":
        cache.set(fiat.CACHE_KEY, {"fetched_at": time.time() - settings.FIAT_RATES_MAX_AGE - 1, "rates": RATES})
    elif rates == "off":
        cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": RATES})
        settings.FIAT_RATES_URL = ""
    html = client.get(reverse("orders:price"), {"country": 43, "service": "tg"}).content.decode()
    assert "2,100" in html and "sats" in html
    assert 'class="fiat"' not in html and "≈" not in html
    order = make(Status.UNPAID)
    assert "≈" not in client.get(order.get_absolute_url()).content.decode()


def test_pages_never_call_the_rates_source(client, upstream, settings):
    """No rates cached: every page is served without asking the source (only the worker does)."""
    order = make(Status.UNPAID)
    with LocalHttpServer(routes={"/ticker": (200, json.dumps(TICKER).encode())}, path="/ticker") as rates_server:
        settings.FIAT_RATES_URL = rates_server.url
        for url in ("/", "/send/", "/rent/", order.get_absolute_url(), "/currency/"):
            assert "≈" not in client.get(url).content.decode()
        client.get(reverse("orders:price"), {"country": 43, "service": "tg"})
        client.get(reverse("orders:status", args=[order.public_id]))
        assert rates_server.gets == []
        fiat.refresh_rates()
        assert len(rates_server.gets) == 1


def test_send_and_rent_prices_show_the_fiat_equivalent(client, upstream, fresh_rates):
    assert fiat_texts(client.get(reverse("orders:send")).content.decode()) == ["≈ 3.00 USD"]
    rent = client.get(reverse("orders:rent")).content.decode()
    assert fiat_texts(rent) == ["≈ 1.37 USD", "≈ 4.82 USD"]  # Indonesia 1,368 and United Kingdom 4,815 sats
    assert "fiat-currency" not in rent  # inside a radio's label: no link


def test_the_invoice_shows_the_fiat_equivalent(client, fresh_rates):
    order = make(Status.UNPAID, quoted_sats=1500)
    html = client.get(order.get_absolute_url()).content.decode()
    assert fiat_texts(html) == ["≈ 1.50 USD", "≈ 1.50 USD"]  # the heading's amount and the invoice's
    assert 'class="amount"><span class="amount-value">1,500</span> <span class="amount-unit">sats</span>' in html
    part = client.get(
        reverse("orders:status", args=[order.public_id]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{order.get_absolute_url()}"},
    ).content.decode()
    assert fiat_texts(part) == ["≈ 1.50 USD"]
    assert f'href="/currency/?next=%2Fo%2F{order.public_id}%2F"' in part  # back to the page, not the part


def test_a_finished_order_shows_no_fiat_at_todays_rate(client, fresh_rates):
    order = make(Status.COMPLETED, code="123456", number="4915112345678")
    assert "≈" not in client.get(order.get_absolute_url()).content.decode()


def test_the_buyer_chooses_the_currency_and_it_is_remembered(upstream, fresh_rates, settings):
    client = Client(enforce_csrf_checks=True)
    form = client.get(reverse("orders:currency"), {"next": "/send/"}).content.decode()
    assert '<option value="USD" selected>USD · US dollar</option>' in form
    assert '<input type="hidden" name="next" value="/send/">' in form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post(
        reverse("orders:currency"), {"csrfmiddlewaretoken": token, "currency": "EUR", "next": "/send/"}
    )
    assert response.status_code == 302 and response["Location"] == "/send/"
    cookie = response.cookies[fiat.COOKIE]
    assert cookie.value == "EUR" and cookie["httponly"] and cookie["max-age"] == fiat.COOKIE_MAX_AGE
    assert fiat_texts(client.get("/send/").content.decode()) == ["≈ 2.70 EUR"]
    assert fiat_texts(client.get("/rent/").content.decode())[1] == "≈ 4.33 EUR"  # sorted by name: UK second
    assert '<option value="EUR" selected>' in client.get(reverse("orders:currency")).content.decode()
    assert settings.SESSION_COOKIE_NAME not in client.cookies  # a cookie, not a session: no order was placed
    assert Client(enforce_csrf_checks=True).post(reverse("orders:currency"), {"currency": "EUR"}).status_code == 403


def test_a_currency_not_offered_gets_a_clear_answer(client, upstream, fresh_rates):
    response = client.post(reverse("orders:currency"), {"currency": "DOGE", "next": "/send/"})
    assert response.status_code == 200
    assert "Choose a currency from the list." in response.content.decode()
    assert fiat.COOKIE not in response.cookies
    # A cookie naming something else (an old choice, a hand-made one) is ignored.
    client.cookies[fiat.COOKIE] = "<script>"
    assert fiat_texts(client.get(reverse("orders:send")).content.decode()) == ["≈ 3.00 USD"]


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", ""])
def test_the_currency_form_returns_only_to_this_site(client, fresh_rates, next_url):
    response = client.post(reverse("orders:currency"), {"currency": "GBP", "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("orders:home")


def test_the_currency_page_says_when_there_are_no_rates(client, settings):
    assert "Exchange rates are not available right now" in client.get(reverse("orders:currency")).content.decode()
    settings.FIAT_RATES_URL = ""
    assert "This shop shows no fiat amounts." in client.get(reverse("orders:currency")).content.decode()


@pytest.mark.parametrize(
    "accept_language, currency",
    [
        ("en-US,en;q=0.9", "USD"),
        ("en-GB,en;q=0.8", "GBP"),
        ("de-DE,de;q=0.9,en;q=0.5", "EUR"),
        ("de", "EUR"),
        ("es-ES", "EUR"),
        ("es", "EUR"),
        ("pt-BR,pt;q=0.9", "BRL"),
        ("ru-RU,ru;q=0.9", "RUB"),
        ("ru", "RUB"),
        ("es-MX", "USD"),  # a region whose currency the shop does not offer: USD
        ("", "USD"),
        ("xx-YY;;;garbage", "USD"),
    ],
)
def test_the_default_currency_follows_the_browsers_language(client, upstream, fresh_rates, accept_language, currency):
    html = client.get(reverse("orders:send"), headers={"accept-language": accept_language}).content.decode()
    assert fiat_texts(html) == [f"≈ {fiat.equivalent(3000, fiat.Decimal(RATES[currency]), currency)[0]} {currency}"]


@pytest.mark.parametrize(
    "language_code, accept_language, currency",
    [
        ("ru", "en-US,en;q=0.9", "RUB"),  # the buyer switched the page to Russian
        ("pt-br", "en-US", "BRL"),
        ("pt-br", "pt-PT,pt;q=0.9", "EUR"),  # LocaleMiddleware gives pt-br to a browser from Portugal
        ("en", "en-GB,en;q=0.9", "GBP"),  # the language without a region: the browser's region
        ("es", "", "EUR"),
    ],
)
def test_the_default_currency_follows_locale_middlewares_language(
    fresh_rates, language_code, accept_language, currency
):
    request = RequestFactory().get("/", headers={"accept-language": accept_language})
    request.LANGUAGE_CODE = language_code
    assert fiat.default_currency(request) == currency


def test_a_currency_without_a_rate_falls_back(fresh_rates, settings):
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": {"EUR": "90000", "RUB": "8000000"}})
    request = RequestFactory().get("/", headers={"accept-language": "en-GB"})
    request.COOKIES[fiat.COOKIE] = "BRL"
    assert fiat.buyer_currency(request, fiat.current_rates()) == "EUR"  # no BRL, GBP nor USD: the first offered
    request.COOKIES[fiat.COOKIE] = "RUB"
    assert fiat.buyer_currency(request, fiat.current_rates()) == "RUB"
    assert fiat.buyer_currency(request, {}) is None


@fuzz(40)
@given(currency=text, next_url=text, extras=extra, post=st.booleans())
def test_the_currency_form_answers_anything(currency, next_url, extras, post):
    client = Client(raise_request_exception=False)
    data = {**extras, "currency": currency, "next": next_url}
    response = client.post("/currency/", data) if post else client.get("/currency/", data)
    assert response.status_code in (200, 302), response.content[:500]
    if response.status_code == 302:
        assert response["Location"].startswith("/") and not response["Location"].startswith("//")
