"""The client's parsing and error mapping, on the contract's example bodies (httpx.MockTransport).

Each example body of docs/sms4sats-api.md is copied in as a literal and checked field by field,
then the tolerance cases (types swapped, alternative shapes) and the error taxonomy.
"""

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from orders import sms4sats
from orders.sms4sats import (
    AsyncSms4satsClient,
    Country,
    Sms4satsClient,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
    parse_order_status,
)

BASE = "https://api.example.test"
KEY = "secret-key-123"
ORDER_ID = "7dc6e6b61d8c54dff6b8d6ea2e3f08b018e57963df81d493a6f9728c4dc83318"

# --- The contract's example bodies, verbatim ---

SERVICES = [
    {
        "key": "tg",
        "text": "Telegram",
        "value": "tg",
        "count": "123",
        "image": {"avatar": True, "src": "<relative path>"},
    }
]
RENTAL_COUNTRIES = [
    {"cc": 6, "country": "Indonesia", "duration": "2", "price": 1368},
    {"cc": 16, "country": "England", "duration": "2", "price": 4815},
]
PRICE = {
    "receive": "1500",
    "send": 3000,
    "rent": 15000,
    "s4s": "4000",
    "query": {"country": "us", "service": "google"},
    "computed": {"price": 1500, "country": 187, "description": "sms4sats payment US google"},
}
CREATED = {"status": "OK", "orderId": ORDER_ID, "payreq": "lnbc30u1p34yef6pp5..."}
STATUS_CODE_RECEIVED = {
    "status": "OK",
    "paid": True,
    "code": 48010,
    "id": 1125699791,
    "number": 12345678901,
    "timestamp": 1666613406969,
    "country": "India",
    "service": "openAI",
}
STATUS_SEND = {
    "status": "OK",
    "paid": True,
    "id": "SMfa2be998e8913565cbbd5f750e32b1b5",
    "smsStatus": "created | sent | delivered | failed",
    "timestamp": 1666613406969,
}
NO_NUMBER_TEXT = (
    "No available number, payment request is canceled. Your funds are returned to your wallet automatically."
)
STATUS_NO_NUMBER = {"status": "OK", "paid": True, "error": NO_NUMBER_TEXT}
CANCEL_OK = {"status": "OK"}
CANCEL_500 = {"status": "error", "reason": "unable to save data"}
SEND_IMMEDIATE = {"status": "OK", "orderId": ORDER_ID, "payreq": "paid"}
FUND_500 = {"status": "error", "reason": "backend error"}
BALANCE = {"status": "OK", "balance": 10000}
HISTORY = {
    "status": "OK",
    "totalAmount": 349500,
    "orders": [
        {
            "amount": 9500,
            "createdAt": 1668612831730,
            "desc": "fund account",
            "description": "fund account",
            "holdinvoice": True,
            "preimage": "xxx",
            "preimageHash": "sha256(xxx)",
            "price": 9500,
            "userId": "APIKEY",
        }
    ],
}
HISTORY_400 = {"status": "error", "reason": "X-API-Key header is missing."}

TS = datetime(2022, 10, 24, 12, 10, 6, 969000, tzinfo=UTC)  # 1666613406969 ms


class Upstream:
    """A fake upstream: answers every request with the queued response and records the requests."""

    def __init__(self, body=None, status=200, raw=None, raise_exc=None):
        self.body, self.status, self.raw, self.raise_exc = body, status, raw, raise_exc
        self.requests: list[httpx.Request] = []

    def __call__(self, request):
        self.requests.append(request)
        if self.raise_exc:
            raise self.raise_exc
        if self.raw is not None:
            return httpx.Response(self.status, content=self.raw)
        return httpx.Response(self.status, json=self.body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self):
        return json.loads(self.last.content)


def client_for(upstream, api_key=KEY, ref="shop@example.com", cls=Sms4satsClient):
    return cls(base_url=BASE, api_key=api_key, ref=ref, timeout=2, transport=httpx.MockTransport(upstream))


def call(body=None, status=200, raw=None, **kwargs):
    upstream = Upstream(body, status, raw)
    return client_for(upstream, **kwargs), upstream


# --- Example bodies, field by field ---


def test_countries_id_eng_shape_deduplicated_auto_select_first():
    client, upstream = call(
        [
            {"id": 0, "eng": "Russia", "visible": 1, "rent": 1},
            {"id": 0, "eng": "Russian", "visible": 1, "rent": 0},
            {"id": 187, "eng": "USA", "visible": 1, "rent": 0},
            {"id": 999, "eng": "Auto-Select"},
        ]
    )
    assert client.countries() == [
        Country(cc=999, name="Auto-Select", rent=False),
        Country(cc=0, name="Russia", rent=True),
        Country(cc=187, name="USA", rent=False),
    ]
    assert upstream.last.method == "GET"
    assert upstream.last.url == f"{BASE}/getCountries"


def test_countries_cc_country_shape_from_the_docs_list():
    data = json.loads((Path(__file__).resolve().parent.parent / "orders/data/sms4sats-countries.json").read_text())
    client, _ = call(data)
    countries = client.countries()
    assert countries[0] == Country(cc=999, name="Auto-Select", rent=False)
    assert len(countries) == len({entry["cc"] for entry in data})
    by_cc = {c.cc: c.name for c in countries}
    assert by_cc[0] == "Russia" and by_cc[16] == "England" and by_cc[187] == "USA"


def test_services_example():
    client, upstream = call(SERVICES)
    [service] = client.services(187)
    assert service.code == "tg"
    assert service.name == "Telegram"
    assert service.count == 123
    assert service.image == "<relative path>"
    assert upstream.last.url.path == "/getnumbersstatus"
    assert upstream.last.url.params["country"] == "187"


def test_rental_countries_example():
    client, upstream = call(RENTAL_COUNTRIES)
    first, second = client.rental_countries()
    assert (first.cc, first.name, first.weeks, first.price) == (6, "Indonesia", 2, 1368)
    assert (second.cc, second.name, second.weeks, second.price) == (16, "England", 2, 4815)
    assert upstream.last.url.path == "/getRentalCountries"
    assert upstream.last.url.params["service"] == "full"
    client.rental_countries("fb")
    assert upstream.last.url.params["service"] == "fb"


def test_price_example():
    client, upstream = call(PRICE)
    price = client.price("us", "google")
    assert price.receive == 1500  # a string upstream
    assert price.send == 3000
    assert price.rent == 15000
    assert price.fee == 4000  # "s4s", a string upstream
    assert price.price == 1500
    assert price.country == 187
    assert price.description == "sms4sats payment US google"
    assert dict(upstream.last.url.params) == {"country": "us", "service": "google"}


def test_price_without_query_has_no_computed_part():
    client, upstream = call({"receive": "1500", "send": 3000, "rent": 15000, "s4s": "4000"})
    price = client.price()
    assert (price.receive, price.price, price.country, price.description) == (1500, None, None, "")
    assert not upstream.last.url.params


def test_create_order_example_and_request():
    client, upstream = call(CREATED)
    order = client.create_order(187, "tg")
    assert order.order_id == ORDER_ID
    assert order.payreq == "lnbc30u1p34yef6pp5..."
    assert not order.paid_from_balance
    request = upstream.last
    assert (request.method, request.url.path) == ("POST", "/createorder")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert "x-api-key" not in request.headers
    assert upstream.last_json() == {
        "country": 187,
        "service": "tg",
        "isRental": False,
        "realphone": False,
        "immediate": False,
        "ref": "shop@example.com",
    }


def test_create_rental_immediate_order_sends_key():
    client, upstream = call(SEND_IMMEDIATE)
    order = client.create_order(16, "full", is_rental=True, realphone=True, immediate=True)
    assert order.paid_from_balance
    assert upstream.last.headers["x-api-key"] == KEY
    body = upstream.last_json()
    assert body["isRental"] is True and body["realphone"] is True and body["immediate"] is True


def test_create_order_without_ref_omits_it():
    client, upstream = call(CREATED, ref="")
    client.create_order(187, "tg")
    assert "ref" not in upstream.last_json()


def test_order_status_code_received():
    client, upstream = call(STATUS_CODE_RECEIVED)
    status = client.order_status(ORDER_ID)
    assert status.paid is True
    assert status.code == "48010"
    assert status.number == "12345678901"
    assert status.activation_id == "1125699791"
    assert status.sms_status is None
    assert status.country == "India"
    assert status.service == "openAI"
    assert status.timestamp == TS
    assert status.error is None
    assert status.raw == STATUS_CODE_RECEIVED
    assert upstream.last.url.path == "/orderstatus"
    assert upstream.last.url.params["orderId"] == ORDER_ID


def test_order_status_send_order():
    # The example's smsStatus lists the values ("created | sent | delivered | failed"): one of them comes.
    client, _ = call({**STATUS_SEND, "smsStatus": "delivered"})
    status = client.order_status(ORDER_ID)
    assert status.paid is True
    assert status.activation_id == "SMfa2be998e8913565cbbd5f750e32b1b5"
    assert status.sms_status == "delivered"
    assert status.timestamp == TS
    assert (status.code, status.number, status.country, status.service, status.error) == (None, None, "", "", None)


def test_order_status_no_number_is_a_200_with_error():
    client, _ = call(STATUS_NO_NUMBER)
    status = client.order_status(ORDER_ID)
    assert status.paid is True
    assert status.error == NO_NUMBER_TEXT
    assert status.number is None and status.code is None


def test_order_status_unpaid_and_waiting_for_code():
    client, _ = call({"status": "OK", "paid": False})
    status = client.order_status(ORDER_ID)
    assert status.paid is False and status.number is None and status.timestamp is None
    client, _ = call(
        {
            "status": "OK",
            "paid": True,
            "number": 12345678901,
            "country": "USA",
            "service": "Telegram",
            "id": 5,
            "timestamp": 1666613406969,
        }
    )
    status = client.order_status(ORDER_ID)
    assert status.number == "12345678901" and status.code is None and status.activation_id == "5"


def test_cancel_example_and_500():
    client, upstream = call(CANCEL_OK)
    assert client.cancel_order(ORDER_ID) is None
    assert upstream.last.method == "GET"
    assert upstream.last.url.path == "/cancelorder"
    assert upstream.last.url.params["orderId"] == ORDER_ID
    client, _ = call(CANCEL_500, status=500)
    with pytest.raises(UpstreamUnavailable) as info:
        client.cancel_order(ORDER_ID)
    assert info.value.reason == "unable to save data"
    assert info.value.status_code == 500


def test_create_send_order_example_and_request():
    client, upstream = call(CREATED)
    order = client.create_send_order("+19871234567", "hello")
    assert order.order_id == ORDER_ID and not order.paid_from_balance
    assert upstream.last.url.path == "/createsendorder"
    assert upstream.last_json() == {
        "phone": "+19871234567",
        "message": "hello",
        "immediate": False,
        "ref": "shop@example.com",
    }
    assert "x-api-key" not in upstream.last.headers


def test_create_send_order_immediate_with_webhook():
    client, upstream = call(SEND_IMMEDIATE)
    order = client.create_send_order("+19871234567", "hi", webhook_url="https://shop.example/hook", immediate=True)
    assert order.paid_from_balance
    assert upstream.last_json()["webhookUrl"] == "https://shop.example/hook"
    assert upstream.last.headers["x-api-key"] == KEY


def test_fund_example_and_500():
    client, upstream = call(CREATED)
    order = client.fund(10000)
    assert order.order_id == ORDER_ID
    assert upstream.last.url.path == "/fund"
    assert upstream.last_json() == {"amount": 10000}
    assert upstream.last.headers["x-api-key"] == KEY
    client, _ = call(FUND_500, status=500)
    with pytest.raises(UpstreamUnavailable, match="backend error"):
        client.fund(10000)


def test_balance_example():
    client, upstream = call(BALANCE)
    assert client.balance() == 10000
    assert upstream.last.headers["x-api-key"] == KEY


def test_history_example():
    client, upstream = call(HISTORY)
    history = client.history()
    assert history.total_amount == 349500
    [entry] = history.entries
    assert entry.amount == 9500
    assert entry.created_at == datetime(2022, 11, 16, 15, 33, 51, 730000, tzinfo=UTC)
    assert entry.description == "fund account"
    assert entry.price == 9500
    assert entry.preimage_hash == "sha256(xxx)"
    assert upstream.last.headers["x-api-key"] == KEY


def test_history_400_missing_key():
    client, _ = call(HISTORY_400, status=400)
    with pytest.raises(UpstreamRejected) as info:
        client.history()
    assert info.value.reason == "X-API-Key header is missing."
    assert info.value.status_code == 400


# --- Tolerance ---


def test_code_string_keeps_leading_zeros():
    client, _ = call({"status": "OK", "paid": True, "code": "0123", "number": "4915112345678"})
    status = client.order_status(ORDER_ID)
    assert status.code == "0123"
    assert status.number == "4915112345678"


@pytest.mark.parametrize("number", [0, "0", "", None])
def test_absent_number_is_none(number):
    client, _ = call({"status": "OK", "paid": True, "number": number, "code": 0})
    status = client.order_status(ORDER_ID)
    assert status.number is None and status.code is None


def test_id_number_or_string():
    client, _ = call({"status": "OK", "paid": True, "id": 42})
    assert client.order_status(ORDER_ID).activation_id == "42"
    client, _ = call({"status": "OK", "paid": True, "id": "SMabc"})
    assert client.order_status(ORDER_ID).activation_id == "SMabc"


def test_order_id_as_number_and_timestamp_as_string():
    client, _ = call({"status": "OK", "orderId": 12345, "payreq": "lnbcrt1..."})
    assert client.create_order(187, "tg").order_id == "12345"
    client, _ = call({"status": "OK", "paid": "true", "timestamp": "1666613406969"})
    status = client.order_status(ORDER_ID)
    assert status.paid is True and status.timestamp == TS


def test_price_types_swapped():
    client, _ = call(
        {
            "receive": 1500,
            "send": "3000",
            "rent": "15000",
            "s4s": 4000,
            "computed": {"price": "1500", "country": "187", "description": "x"},
        }
    )
    price = client.price(187, "tg")
    assert (price.receive, price.send, price.rent, price.fee, price.price, price.country) == (
        1500,
        3000,
        15000,
        4000,
        1500,
        187,
    )


def test_rental_and_balance_types_swapped():
    client, _ = call([{"cc": "6", "country": "Indonesia", "duration": 2, "price": "1368"}])
    [rental] = client.rental_countries()
    assert (rental.cc, rental.weeks, rental.price) == (6, 2, 1368)
    client, _ = call({"status": "OK", "balance": "2500"})
    assert client.balance() == 2500


def test_services_loose_fields():
    client, _ = call([{"key": "ot", "count": 7, "image": "img/ot.png"}, {"value": "vk", "text": "VK", "count": "n/a"}])
    other, vk = client.services(999)
    assert (other.code, other.name, other.count, other.image) == ("ot", "ot", 7, "img/ot.png")
    assert (vk.code, vk.name, vk.count, vk.image) == ("vk", "VK", None, "")


def test_countries_rent_as_bool_or_int():
    client, _ = call([{"id": 6, "eng": "Indonesia", "rent": True}, {"cc": "16", "country": "England", "rent": 0}])
    assert client.countries() == [Country(6, "Indonesia", True), Country(16, "England", False)]


def test_history_without_total_sums_entries_and_uses_desc():
    client, _ = call({"status": "OK", "orders": [{"amount": "100", "desc": "fund account"}, {"amount": 50}]})
    history = client.history()
    assert history.total_amount == 150
    assert [e.description for e in history.entries] == ["fund account", ""]
    assert history.entries[0].created_at is None


# --- Malformed answers ---


@pytest.mark.parametrize(
    "method, args, answer",
    [
        ("countries", (), {"status": "OK"}),  # an object where a bare array belongs
        ("services", (187,), {"tg": "Telegram"}),
        ("rental_countries", (), "Indonesia"),
        ("price", (187, "tg"), ["cheap"]),
        ("create_order", (187, "tg"), {"status": "OK", "payreq": "lnbc1..."}),  # no orderId
        ("create_order", (187, "tg"), {"status": "OK", "orderId": ORDER_ID, "payreq": ""}),
        ("create_order", (187, "tg"), {"status": "OK", "orderId": ORDER_ID, "payreq": {"x": 1}}),
        ("order_status", (ORDER_ID,), [STATUS_SEND]),
        ("order_status", (ORDER_ID,), "paid"),
        ("balance", (), {"status": "OK"}),
        ("balance", (), {"status": "OK", "balance": True}),
        ("history", (), {"status": "OK", "orders": {"amount": 1}}),
        ("history", (), {"status": "OK", "orders": [{"createdAt": 1}]}),
    ],
)
def test_wrong_shapes_are_malformed(method, args, answer):
    """Malformed is for an answer of which nothing can be used (a bad entry or field: the tests below)."""
    client, _ = call(answer)
    with pytest.raises(UpstreamMalformed):
        getattr(client, method)(*args)


@pytest.fixture
def counted(monkeypatch):
    """The metrics counted, as (name, labels) in order (the counter is buffered in the process)."""
    seen = []
    monkeypatch.setattr(sms4sats.transport.metrics, "count", lambda name, *labels: seen.append((name, labels)))
    return seen


@pytest.mark.parametrize(
    "method, args, answer, kept, dropped",
    [
        (
            "countries",
            (),
            [{"id": 5}, {"id": 43, "eng": "Germany"}, "Spain", {"eng": "Nowhere"}, {"id": 6, "eng": "\u202e\x00"}],
            [43],
            ["country #1: missing field eng/country/name", "country #3", "country #4", "country #5: country 6"],
        ),
        (
            "services",
            (43,),
            [{"text": "No value"}, {"value": "tg", "text": "Telegram"}, {"value": ["x"]}, {"value": "s" * 41}],
            ["tg"],
            ["service #1: missing field value/key", "service #3", "service #4"],
        ),
        (
            "rental_countries",
            (),
            [
                {"cc": 6, "country": "Indonesia", "duration": "4", "price": "cheap"},
                {"cc": 16, "country": "England", "duration": "2", "price": 4815},
                {"cc": 7, "country": "Spain", "duration": "two", "price": 1},
                {"cc": 8, "country": "France", "duration": "2", "price": -1},
            ],
            [16],
            ["rental country #1: price", "rental country #3: duration", "rental country #4: price"],
        ),
    ],
)
def test_one_bad_entry_is_left_out_not_the_list(method, args, answer, kept, dropped, counted):
    client, _ = call(answer)
    result = getattr(client, method)(*args)
    assert [getattr(entry, "cc", getattr(entry, "code", None)) for entry in result] == kept
    assert len(result.dropped) == len(dropped)
    for reason, expected in zip(result.dropped, dropped, strict=True):
        assert reason.startswith(expected)
    endpoint = {"countries": "getCountries", "services": "getnumbersstatus"}.get(method, "getRentalCountries")
    assert counted.count(("upstream_entries_dropped", (endpoint,))) == len(dropped)
    assert ("upstream_calls", (endpoint, "ok")) in counted


def test_an_empty_list_is_no_error():
    client, _ = call([])
    assert client.countries() == [] and client.countries().dropped == []


def test_price_field_by_field():
    client, _ = call({"receive": "cheap", "send": 3000, "computed": {"price": -5, "country": 43}})
    price = client.price(43, "tg")
    assert (price.receive, price.send, price.price, price.country) == (None, 3000, None, 43)
    assert [reason.split(":")[0] for reason in price.dropped] == ["receive", "computed.price"]


def test_order_status_sound_fields_stand_beside_refused_ones(counted):
    client, _ = call(
        {
            "status": "OK",
            "paid": True,
            "number": "1 555 0100",
            "code": [1],
            "smsStatus": "s" * 11,
            "timestamp": 10**20,
            "error": {"why": "?"},
            "country": "India",
        }
    )
    status = client.order_status(ORDER_ID)
    assert status.paid is True and status.country == "India"
    assert (status.number, status.code, status.sms_status, status.timestamp, status.error) == (None,) * 5
    assert [name for name, _ in status.refused] == ["number", "code", "smsStatus", "timestamp", "error"]
    assert dict(status.refused)["number"] == "not a phone number: '1 555 0100'"
    assert counted.count(("upstream_entries_dropped", ("orderstatus",))) == 5


def test_an_unreadable_paid_is_unknown_not_unpaid():
    status = parse_order_status({"status": "OK", "paid": "maybe", "number": "15550100"})
    assert status.paid is None and status.number == "15550100"
    assert status.refused == (("paid", "expected a boolean, got 'maybe'"),)
    assert parse_order_status({"status": "OK"}).paid is False  # not said yet: not paid (the docs' clients)


def test_a_code_is_kept_as_sent_up_to_its_column():
    bidi = parse_order_status({"status": "OK", "paid": True, "code": " 12\u202e34\u200b "})
    assert bidi.code == "12\u202e34\u200b" and bidi.refused == ()  # kept as sent; the order shows it safely
    nul = parse_order_status({"status": "OK", "paid": True, "code": "12\x0034"})
    assert nul.code == "1234" and nul.refused == (("code", "characters that cannot be stored (NUL) were removed"),)
    long = "7" * 100
    assert parse_order_status({"status": "OK", "paid": True, "code": long}).code == long
    longer = parse_order_status({"status": "OK", "paid": True, "code": "8" * 700})
    assert longer.code == "8" * sms4sats.contract.CODE_MAX and longer.paid
    assert longer.refused == (("code", "700 characters: only the first 640 are kept"),)


@pytest.mark.parametrize("status", [400, 500, 200])
def test_reasons_from_sms4sats_are_one_clean_line(status):
    client, _ = call({"status": "error", "reason": "No\u202e money\n\x1b[31mhere\u200b\x00"}, status=status)
    with pytest.raises(sms4sats.Sms4satsError) as caught:
        client.balance()
    assert caught.value.reason == "No money [31mhere"
    answer = parse_order_status({"status": "OK", "paid": True, "error": "No\u2066 available\r\nnumber\u202c"})
    assert answer.error == "No available number"


@pytest.mark.parametrize("raw", [b"<html>Bad gateway</html>", b"", b"\xff\xfe", b'{"status": "OK"'])
def test_non_json_is_malformed(raw):
    client, _ = call(raw=raw)
    with pytest.raises(UpstreamMalformed, match="not JSON"):
        client.balance()


def test_redirect_is_malformed():
    client, _ = call(raw=b"", status=302)
    with pytest.raises(UpstreamMalformed, match="302"):
        client.countries()


# --- Errors ---


@pytest.mark.parametrize(
    "status, body, reason",
    [
        (500, {"status": "error", "reason": "backend error"}, "backend error"),
        (502, None, "HTTP 502"),
        (503, {"error": "maintenance"}, "maintenance"),
    ],
)
def test_5xx_is_unavailable(status, body, reason):
    client, _ = call(raw=json.dumps(body).encode() if body else b"<html>", status=status)
    with pytest.raises(UpstreamUnavailable) as info:
        client.countries()
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "status, body, reason",
    [
        (400, {"status": "error", "reason": "invalid phone"}, "invalid phone"),
        (404, {"error": "not found"}, "not found"),
        (403, None, "HTTP 403"),
        (200, {"status": "error", "reason": "unknown orderId"}, "unknown orderId"),
        (200, {"status": "error"}, "HTTP 200"),
    ],
)
def test_rejections_carry_the_reason(status, body, reason):
    client, _ = call(raw=json.dumps(body).encode() if body else b"", status=status)
    with pytest.raises(UpstreamRejected) as info:
        client.order_status(ORDER_ID)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_transport_failures_are_unavailable(exc):
    upstream = Upstream(raise_exc=exc)
    with pytest.raises(UpstreamUnavailable):
        client_for(upstream).countries()
    with pytest.raises(UpstreamUnavailable):
        client_for(upstream).ping()


@pytest.mark.parametrize("exc", [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.WriteTimeout("slow")])
def test_timeouts_say_timed_out(exc):
    # Callers tell "may have reached sms4sats" from "never arrived" by this text.
    with pytest.raises(UpstreamUnavailable, match="timed out"):
        client_for(Upstream(raise_exc=exc)).create_order(187, "tg")


def test_ping_accepts_any_2xx_body():
    client, upstream = call(raw=b"sms4sats api")
    client.ping()
    assert upstream.last.url == f"{BASE}/"
    client, _ = call(raw=b"oops", status=500)
    with pytest.raises(UpstreamUnavailable):
        client.ping()


@pytest.mark.parametrize(
    "method, args",
    [
        ("fund", (1000,)),
        ("balance", ()),
        ("history", ()),
        ("create_order", (187, "tg")),
        ("create_send_order", ("+19871234567", "hi")),
    ],
)
def test_missing_key_is_rejected_before_calling(method, args):
    upstream = Upstream(CREATED)
    client = client_for(upstream, api_key="")
    kwargs = {"immediate": True} if method.startswith("create") else {}
    with pytest.raises(UpstreamRejected, match="SMS4SATS_API_KEY is not set"):
        getattr(client, method)(*args, **kwargs)
    assert upstream.requests == []


def test_key_is_sent_only_where_needed():
    upstream = Upstream([])
    client = client_for(upstream)
    client.countries()
    client.services(187)
    client.rental_countries()
    upstream.body = PRICE
    client.price(187, "tg")
    upstream.body = {**STATUS_SEND, "smsStatus": "sent"}
    client.order_status(ORDER_ID)
    upstream.body = CANCEL_OK
    client.cancel_order(ORDER_ID)
    upstream.body = CREATED
    client.create_order(187, "tg")
    client.create_send_order("+19871234567", "hi")
    assert len(upstream.requests) == 8
    assert all("x-api-key" not in request.headers for request in upstream.requests)


def test_failures_are_logged_without_the_key(caplog):
    client, _ = call(HISTORY_400, status=400)
    with caplog.at_level(logging.WARNING, logger="orders.sms4sats"), pytest.raises(UpstreamRejected):
        client.history()
    assert "history" in caplog.text
    assert "X-API-Key header is missing." in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(client)


def test_timeouts_are_explicit():
    client = Sms4satsClient(base_url=BASE, api_key=KEY, timeout=7)
    timeout = client._http.timeout
    assert (timeout.read, timeout.write, timeout.pool) == (7, 7, 7)
    assert timeout.connect == sms4sats.CONNECT_TIMEOUT
    client.close()


def test_settings_are_the_defaults(settings):
    settings.SMS4SATS_API_URL = "https://upstream.example/"
    settings.SMS4SATS_API_KEY = "k"
    settings.SMS4SATS_REF = "op@example.com"
    settings.SMS4SATS_TIMEOUT = 4
    client = Sms4satsClient()
    assert (client.base_url, client.api_key, client.ref, client.timeout) == (
        "https://upstream.example",
        "k",
        "op@example.com",
        4,
    )
    client.close()


def test_get_client_is_shared_and_rebuilt_when_settings_change(settings):
    first = sms4sats.get_client()
    assert sms4sats.get_client() is first
    settings.SMS4SATS_API_KEY = "another-key"
    second = sms4sats.get_client()
    assert second is not first and second.api_key == "another-key"
    settings.SMS4SATS_REF = "op@example.com"
    assert sms4sats.get_client().ref == "op@example.com"


# --- Async: the same calls and parsers ---


def run_async(upstream, method, *args, **kwargs):
    async def go():
        async with client_for(upstream, cls=AsyncSms4satsClient) as client:
            return await getattr(client, method)(*args, **kwargs)

    return asyncio.run(go())


def test_async_parses_the_same():
    assert run_async(Upstream(STATUS_CODE_RECEIVED), "order_status", ORDER_ID).code == "48010"
    assert run_async(Upstream(PRICE), "price", "us", "google").price == 1500
    assert run_async(Upstream(SERVICES), "services", 187)[0].name == "Telegram"


def test_async_errors_map_the_same():
    with pytest.raises(UpstreamUnavailable, match="unable to save data"):
        run_async(Upstream(CANCEL_500, status=500), "order_status", ORDER_ID)
    with pytest.raises(UpstreamRejected, match="invalid country"):
        run_async(Upstream({"status": "error", "reason": "invalid country"}, status=400), "services", 1)
    with pytest.raises(UpstreamMalformed):
        run_async(Upstream(raw=b"<html>"), "services", 187)
    with pytest.raises(UpstreamUnavailable):
        run_async(Upstream(raise_exc=httpx.ReadTimeout("slow")), "price")
    with pytest.raises(UpstreamUnavailable):
        run_async(Upstream(raise_exc=httpx.ConnectError("refused")), "order_status", ORDER_ID)


def test_a_negative_price_is_no_price():
    from orders.sms4sats import parse_price

    price = parse_price({"computed": {"price": -9.223372036854776e18, "country": 43}})
    assert price.price is None and price.country == 43 and price.dropped[0].startswith("computed.price: ")
