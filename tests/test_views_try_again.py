"""Try again keeps everything (issue #25, part 6): the SMS form comes back filled after a failed SMS, and the
"try another country" hint falls back to sms4sats' own availability counts when the shop's orders are too few."""

import re

import pytest

from orders.models import Kind, RefundReason, Status
from tests.factories import make_order_in_germany as make

pytestmark = pytest.mark.django_db


def test_try_again_after_a_failed_sms_keeps_the_number_and_the_message(client, upstream):
    failed = make(Status.REFUNDED, Kind.SEND, refund_reason=RefundReason.SMS_FAILED, message="Your code is <b>42</b>")
    html = client.get(failed.get_absolute_url()).content.decode()
    again = re.search(r'<a class="btn" href="([^"]+)">Try again</a>', html).group(1)
    assert again == f"/send/?again={failed.public_id}"  # the message itself stays out of addresses and logs
    form = client.get(again.replace("&amp;", "&")).content.decode()
    assert 'value="+447911123456"' in form
    assert ">Your code is &lt;b&gt;42&lt;/b&gt;</textarea>" in form


@pytest.mark.parametrize("again", ["nonsense", "00000000-0000-0000-0000-000000000000", ""])
def test_an_unknown_or_other_order_fills_in_nothing(client, upstream, again):
    receive = make(Status.REFUNDED)
    for value in (again, str(receive.public_id)):
        html = client.get("/send/", {"again": value}).content.decode()
        assert 'value=""' in html and "></textarea>" in html


def suggestion(client, cc, service="tg"):
    html = client.get("/", {"country": cc, "service": service}).content.decode()
    found = re.search(r'<p class="suggestion">.*?</p>', html, re.S)
    return " ".join(found.group(0).split()) if found else ""


def test_with_few_orders_the_hint_uses_sms4sats_own_counts_and_says_so(client, upstream):
    from orders import catalog

    catalog.refresh_all()  # caches Auto-Select's list; the buyer looked at Russia and the USA
    for cc in (0, 187):
        catalog.services(cc)
    make(Status.COMPLETED, code="1")  # one finished order: too few to mean anything
    html = suggestion(client, 43)  # a Telegram number in Germany failed
    assert "This shop has too few recent orders to say where codes arrive most often." in html
    assert "By sms4sats' own count, <strong>USA</strong> has the most numbers for this service right now: 9" in html
    assert 'href="/?country=187&amp;service=tg">Choose USA</a>' in html
    assert suggestion(client, 43, service="nosuch") == ""  # nobody lists it: no hint


def test_with_enough_orders_the_hint_uses_the_shops_own(client, upstream):
    from orders import catalog

    catalog.services(187)
    for _ in range(9):
        make(Status.COMPLETED, country_code=0, country_name="Russia", code="1")
    make(Status.REFUNDED, country_code=0, country_name="Russia")
    html = suggestion(client, 43)
    assert "arrived most often with numbers from <strong>Russia</strong>" in html
    assert "sms4sats' own count" not in html
