"""Rent a number: rental countries with weeks and price, then the same order flow."""

import pytest

from orders.models import Kind, Order

pytestmark = pytest.mark.django_db


def test_rent_page_lists_countries_weeks_and_prices(client, upstream):
    html = client.get("/rent/").content.decode()
    assert "<legend>Country</legend>" in html
    england = html[html.index('value="16"') : html.index("</label>", html.index('value="16"'))]
    assert "United Kingdom" in england and "2 weeks" in england and "4,815 sats" in england
    indonesia = html[html.index('value="6"') : html.index("</label>", html.index('value="6"'))]
    assert "Indonesia" in indonesia and "4 weeks" in indonesia and "1,368 sats" in indonesia


def test_rent_order_uses_the_catalog_price_and_weeks(client, upstream):
    response = client.post("/rent/", {"country": 6, "price": 1, "weeks": 99})
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    assert order.kind == Kind.RENTAL
    assert (order.country_code, order.country_name, order.rental_weeks, order.quoted_sats) == (6, "Indonesia", 4, 1368)
    assert order.service_code == "full"


@pytest.mark.parametrize(
    "country, message",
    [
        (43, "Rentals are not offered for this country"),
        ("x", "Choose a country from the list."),
        ("", "Choose a country."),
    ],
)
def test_rent_bad_country(client, upstream, country, message):
    response = client.post("/rent/", {"country": country})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Order.objects.exists()


def test_rent_unavailable(client, upstream):
    upstream.down = True
    html = client.get("/rent/").content.decode()
    assert "Rentals are paused." in html
    response = client.post("/rent/", {"country": 6})
    assert response.status_code == 200 and not Order.objects.exists()
