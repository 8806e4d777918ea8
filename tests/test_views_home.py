"""The picker: Country, Service (HTMX), price, one Order button; the server's price, never the form's."""

import pytest
from django.urls import reverse

from orders.models import Kind, Order, Status
from orders.sms4sats import Country

pytestmark = pytest.mark.django_db


def test_home_lists_countries_auto_select_first_and_its_services(client, upstream):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_country">Country</label>' in html
    assert '<label for="id_service">Service</label>' in html
    # CLDR's names (not sms4sats' "England"), in the page's language and its order
    assert html.index('value="999" selected>Auto-Select') < html.index(">Germany<") < html.index(">United Kingdom<")
    assert "Telegram · 120 available" in html
    assert 'value="wa" disabled>WhatsApp · none available' in html
    assert 'hx-get="/catalog/services"' in html
    assert "Order number" in html
    assert "Ordering is paused" not in html
    assert "<script>" not in html  # no inline scripts (CSP)
    assert "htmx-2.min.js" in html and "shop.js" in html


def test_home_with_a_country_in_the_query(client, upstream):
    html = client.get("/?country=43").content.decode()
    assert 'value="43" selected>Germany' in html
    assert "Discord · 7 available" in html


@pytest.mark.parametrize("raw", ["12345", "abc", "-1", "9" * 40, ""])
def test_home_with_a_bad_country_in_the_query(client, upstream, raw):
    response = client.get("/", {"country": raw})
    assert response.status_code == 200
    assert "This country is not in the list" in response.content.decode()


def test_services_fragment(client, upstream):
    response = client.get(reverse("orders:services"), {"country": 43})
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div id="service-field"' in html
    assert "Telegram · 50 available" in html
    assert 'hx-swap-oob="true"' in html  # the price box resets
    assert "<html" not in html


@pytest.mark.parametrize("raw", ["12345", "x", "", "1e3"])
def test_services_fragment_bad_country(client, upstream, raw):
    response = client.get(reverse("orders:services"), {"country": raw})
    assert response.status_code == 200
    assert "Choose a country from the list." in response.content.decode()


def test_services_fragment_while_sms4sats_is_slow_asks_again_and_then_lists(client, upstream, page_budget):
    import time

    client.get(reverse("orders:services"), {"country": 999})  # the countries are cached; Germany's services not
    upstream.delay = 0.9  # over the page's budget: the page answers before the read ends
    html = client.get(reverse("orders:services"), {"country": 43}).content.decode()
    assert "sms4sats is slow to answer right now. Asking it again in a few seconds" in html and "Telegram" not in html
    assert 'hx-get="/catalog/services?country=43" hx-trigger="load delay:2s"' in html  # asks again by itself
    page = client.get("/?country=187").content.decode()  # the whole page: the form is not paused for a slow list
    assert "Asking it again" in page and "Ordering is paused" not in page
    time.sleep(1.2)  # the read the page started ends in its fetch thread, and is cached
    html = client.get(reverse("orders:services"), {"country": 43}).content.decode()
    assert "Telegram · 50 available" in html and "load delay:2s" not in html
    upstream.delay, upstream.down = 0.0, True
    html = client.get(reverse("orders:services"), {"country": 0}).content.decode()
    assert "cannot be reached" in html and "load delay:2s" not in html  # down: the form's own poll brings it back


def test_price_fragment_while_sms4sats_is_slow_asks_again_and_then_shows_the_price(client, upstream, page_budget):
    import time

    client.get(reverse("orders:services"), {"country": 43})  # the country and its list are cached, no price yet
    upstream.delay = 0.9
    html = client.get(reverse("orders:price"), {"country": 43, "service": "tg"}).content.decode()
    assert "Asking it again in a few seconds" in html and "price-amount" not in html
    assert 'hx-get="/catalog/price?country=43&amp;service=tg" hx-trigger="load delay:2s"' in html
    time.sleep(1.2)
    html = client.get(reverse("orders:price"), {"country": 43, "service": "tg"}).content.decode()
    assert '<span class="price-amount">2,100</span>' in html and "load delay" not in html


def test_an_order_posted_while_sms4sats_is_slow_says_so_and_the_form_stays(client, upstream, page_budget):
    client.get(reverse("orders:services"), {"country": 43})
    upstream.delay = 0.9  # the price is not cached and its read takes longer than the page waits
    response = client.post("/", {"country": 43, "service": "tg"})
    html = response.content.decode()
    assert response.status_code == 200 and not Order.objects.exists()
    assert "sms4sats is slow to answer right now" in html
    assert "Ordering is paused" not in html and "/catalog/open" not in html and 'value="43" selected' in html


def test_services_fragment_for_a_country_without_services(client, upstream):
    html = client.get(reverse("orders:services"), {"country": 16}).content.decode()
    assert "No services are offered for this country" in html
    assert "disabled" in html


def test_price_fragment(client, upstream):
    html = client.get(reverse("orders:price"), {"country": 43, "service": "tg"}).content.decode()
    assert "2,100" in html and "sats" in html
    assert "charged only when the code arrives" in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"country": 43, "service": "zz"}, "not offered for this country"),
        ({"country": "x", "service": "tg"}, "Choose a country"),
        ({"country": 999, "service": "wa"}, "No numbers are available"),
        ({"country": 43, "service": ""}, "Choose a service to see its price."),
        ({"country": 43, "service": "<script>alert(1)</script>"}, "not offered"),
    ],
)
def test_price_fragment_bad_input(client, upstream, params, message):
    response = client.get(reverse("orders:price"), params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<script>alert" not in response.content.decode()


def test_order_uses_the_server_price_and_the_session(client, upstream):
    response = client.post("/", {"country": 43, "service": "tg", "price": 1, "quoted_sats": 1})
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert order.kind == Kind.RECEIVE
    assert order.status == Status.NEW
    assert order.quoted_sats == 2100
    assert (order.country_code, order.country_name, order.service_code, order.service_name) == (
        43,
        "Germany",
        "tg",
        "Telegram",
    )
    assert order.session_key and order.session_key == client.session.session_key


@pytest.mark.parametrize(
    "data, field_message",
    [
        ({"country": 12345, "service": "tg"}, "This country is not in the list"),
        ({"country": "Germany", "service": "tg"}, "Choose a country from the list."),
        ({"country": 43, "service": "zz"}, "This service is not offered for this country"),
        ({"country": 999, "service": "wa"}, "No numbers are available for this service"),
        ({"country": 43}, "Choose a service."),
        ({"service": "tg"}, "Choose a country."),
        ({"country": 43, "service": "x" * 500}, "Choose a service from the list."),
        ({"country": "43\x00", "service": "tg"}, "Choose a country"),
    ],
)
def test_order_bad_input_gets_a_message_by_the_field(client, upstream, data, field_message):
    response = client.post("/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert field_message in html
    assert 'class="field-error"' in html
    assert not Order.objects.exists()


def test_catalog_unavailable_banner_and_ordering_disabled(client, upstream):
    upstream.down = True
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "banner-down" in html
    assert "Ordering is paused." in html
    assert 'btn-block" disabled>Order number' in html
    assert ">Germany<" in html  # the bundled names still show
    response = client.post("/", {"country": 43, "service": "tg"})
    assert response.status_code == 200
    assert "Ordering is paused." in response.content.decode()
    assert not Order.objects.exists()


def test_banner_shows_on_other_pages_too(client, upstream):
    upstream.down = True
    client.get("/")
    assert "banner-down" in client.get(reverse("orders:how")).content.decode()


def test_sandbox_banner(client, upstream, settings):
    settings.SANDBOX = True
    assert "No real money moves" in client.get("/").content.decode()
    settings.SANDBOX = False
    assert "No real money moves" not in client.get("/").content.decode()


def test_upstream_names_are_escaped(client, upstream):
    upstream.countries_list.append(Country(77, "<script>alert(1)</script>", False))
    html = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_get_only_methods(client, upstream):
    assert client.put("/").status_code == 405
    assert client.post(reverse("orders:services")).status_code == 405
