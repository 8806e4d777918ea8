"""Arbitrary JSON in place of every sms4sats answer: each parser, and each client method over a mocked
transport (any status, any body), gives its typed result or a Sms4satsError subclass, nothing else."""

import asyncio
import json
from datetime import datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders import sms4sats
from orders.sms4sats import (
    Country,
    CreatedOrder,
    History,
    OrderStatus,
    Price,
    RentalCountry,
    Service,
    Sms4satsError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
)

FUZZ = settings(max_examples=60, deadline=None)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # unbounded: far past 64 bits
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", "0", "00123", " 42 ", "1e309", "-1", "true", "OK", "error", "paid", "+0", "1.5"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# The field names the parsers look for, so that arbitrary values reach every reader, not just the top check.
KEYS = [
    "status", "reason", "error", "orderId", "payreq", "paid", "code", "number", "id", "smsStatus", "country",
    "service", "timestamp", "balance", "receive", "send", "rent", "s4s", "price", "computed", "description",
    "cc", "eng", "name", "value", "key", "text", "count", "image", "src", "duration", "orders", "amount",
    "createdAt", "desc", "preimageHash", "totalAmount",
]  # fmt: skip
shaped_object = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
    lambda children: st.dictionaries(
        st.sampled_from(KEYS), st.one_of(json_values, children, st.lists(children)), max_size=8
    ),
    max_leaves=10,
)
answers = st.one_of(json_values, shaped_object, st.lists(shaped_object, max_size=3))

PARSERS = {
    sms4sats.parse_countries: lambda r: isinstance(r, list) and all(isinstance(c, Country) for c in r),
    sms4sats.parse_services: lambda r: isinstance(r, list) and all(isinstance(s, Service) for s in r),
    sms4sats.parse_rental_countries: lambda r: isinstance(r, list) and all(isinstance(c, RentalCountry) for c in r),
    sms4sats.parse_price: lambda r: isinstance(r, Price),
    sms4sats.parse_created_order: lambda r: isinstance(r, CreatedOrder) and r.order_id and r.payreq,
    sms4sats.parse_paid_order: lambda r: isinstance(r, CreatedOrder) and r.order_id and r.payreq == "paid",
    sms4sats.parse_order_status: lambda r: isinstance(r, OrderStatus),
    sms4sats.parse_cancel: lambda r: r is None,
    sms4sats.parse_balance: lambda r: isinstance(r, int) and not isinstance(r, bool),
    sms4sats.parse_history: lambda r: isinstance(r, History),
}


def test_every_parser_is_covered():
    assert set(PARSERS) == {getattr(sms4sats, n) for n in dir(sms4sats) if n.startswith("parse_")}


def typed_fields_ok(result):
    """The typed results hold the types they promise (no dict where a str should be)."""
    if isinstance(result, OrderStatus):
        assert result.paid is None or isinstance(result.paid, bool)
        assert all(isinstance(name, str) and isinstance(why, str) for name, why in result.refused)
        for value in (result.code, result.number, result.activation_id, result.sms_status, result.error):
            assert value is None or isinstance(value, str)
        assert isinstance(result.country, str) and isinstance(result.service, str)
        assert result.timestamp is None or isinstance(result.timestamp, datetime)
    if isinstance(result, Price):
        for value in (result.receive, result.send, result.rent, result.fee, result.price, result.country):
            assert value is None or (isinstance(value, int) and not isinstance(value, bool))
    if isinstance(result, list):
        for item in result:
            for name, value in vars(item).items():
                assert isinstance(value, str | int | type(None)), (name, value)


@pytest.mark.parametrize("parse", list(PARSERS), ids=lambda p: p.__name__)
@FUZZ
@given(body=answers)
def test_parsers_give_a_typed_result_or_a_client_error(parse, body):
    try:
        result = parse(body)
    except Sms4satsError:
        return
    assert PARSERS[parse](result), result
    typed_fields_ok(result)


# Through the client: any HTTP status, any body ---------------------------------------------------------------

METHODS = [
    ("ping", (), lambda r: r is None),
    ("countries", (), PARSERS[sms4sats.parse_countries]),
    ("services", (43,), PARSERS[sms4sats.parse_services]),
    ("rental_countries", (), PARSERS[sms4sats.parse_rental_countries]),
    ("price", (43, "tg"), PARSERS[sms4sats.parse_price]),
    ("create_order", (43, "tg"), PARSERS[sms4sats.parse_created_order]),
    ("order_status", ("abc",), PARSERS[sms4sats.parse_order_status]),
    ("cancel_order", ("abc",), PARSERS[sms4sats.parse_cancel]),
    ("create_send_order", ("+447911123456", "hi"), PARSERS[sms4sats.parse_created_order]),
    ("fund", (1000,), PARSERS[sms4sats.parse_created_order]),
    ("balance", (), PARSERS[sms4sats.parse_balance]),
    ("history", (), PARSERS[sms4sats.parse_history]),
]

bodies = st.one_of(
    answers.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=100),
    st.sampled_from([b"", b"{", b'{"status": "OK", "paid": tr', b"\xff\xfe", b"null", b"<html>502</html>"]),
)
statuses = st.one_of(
    st.sampled_from([200, 200, 200, 201, 204, 400, 401, 404, 429, 500, 502, 503]),
    st.integers(100, 599).filter(lambda s: s not in (101,)),
)
content_types = st.sampled_from(["application/json", "text/html", "application/json; charset=latin-1", ""])


class Scripted:
    """One answer at a time, so that one client (whose SSL context is slow to build) serves every example."""

    answer = (200, b"{}", "application/json")

    @classmethod
    def handler(cls, request):
        status, body, content_type = cls.answer
        headers = {"Content-Type": content_type} if content_type else {}
        return httpx.Response(status, content=body, headers=headers)


SYNC_CLIENT = sms4sats.Sms4satsClient(
    base_url="http://upstream.invalid",
    api_key="k",
    ref="op@example.com",
    transport=httpx.MockTransport(Scripted.handler),
)


@pytest.mark.parametrize("method, args, typed", METHODS, ids=[m[0] for m in METHODS])
@settings(max_examples=40, deadline=None)
@given(status=statuses, body=bodies, content_type=content_types)
def test_client_methods_give_a_typed_result_or_a_client_error(method, args, typed, status, body, content_type):
    Scripted.answer = (status, body, content_type)
    try:
        result = getattr(SYNC_CLIENT, method)(*args)
    except (UpstreamUnavailable, UpstreamRejected, UpstreamMalformed) as exc:
        assert isinstance(exc.reason, str) and exc.reason
        if status >= 500:
            assert isinstance(exc, UpstreamUnavailable)
        elif status >= 400:
            assert isinstance(exc, UpstreamRejected)
        return
    assert 200 <= status < 300, f"a {status} answer was taken as a result"
    assert typed(result), result
    typed_fields_ok(result)


@settings(max_examples=30, deadline=None)
@given(status=statuses, body=bodies, content_type=content_types)
def test_async_order_status_the_same(status, body, content_type):
    Scripted.answer = (status, body, content_type)

    async def run():
        async with sms4sats.AsyncSms4satsClient(
            base_url="http://upstream.invalid", api_key="k", transport=httpx.MockTransport(Scripted.handler)
        ) as client:
            return await client.order_status("abc")

    try:
        result = asyncio.run(run())
    except Sms4satsError:
        return
    assert isinstance(result, OrderStatus)
    typed_fields_ok(result)


@settings(max_examples=20, deadline=None)
@given(
    error=st.sampled_from(
        [
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("cut"),
            httpx.TooManyRedirects("loop"),
            httpx.DecodingError("gzip"),
            httpx.ReadError("reset"),
        ]
    ),
    method=st.sampled_from(METHODS),
)
def test_transport_errors_are_client_errors(error, method):
    def handler(request):
        raise error

    client = sms4sats.Sms4satsClient(
        base_url="http://upstream.invalid", api_key="k", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(Sms4satsError):
        getattr(client, method[0])(*method[1])
    client.close()


# What the shop keeps fits its columns ------------------------------------------------------------------------
# Run on PostgreSQL too (DATABASE_URL=postgres://...): it enforces the lengths, refuses NUL characters and lone
# surrogates in text and JSON, and "Infinity" in JSON, where SQLite forgives most of it.

HOSTILE = [
    "\x00", "a\x00b", "\ud800", "x" * 101, "9" * 33, "+" + "1" * 40, "c" * 65, "s" * 11, "Telegram\n\r\t", "🇺🇸" * 60,
    "١٢٣", "1e309", "delivered", "+447911123456", "48010", "٠",
]  # fmt: skip
hostile_text = st.one_of(
    st.text(max_size=120),
    st.sampled_from(HOSTILE),
    st.tuples(st.sampled_from(HOSTILE), st.text(max_size=80)).map("".join),
)
hostile_value = st.one_of(hostile_text, st.integers(), st.floats(), st.none(), st.just(float("inf")))


def model_limit(name):
    from orders.models import Order

    return Order._meta.get_field(name).max_length


def test_the_bounds_are_the_models_columns():
    assert sms4sats.contract.NAME_MAX == model_limit("country_name") == model_limit("service_name")
    assert sms4sats.contract.SERVICE_CODE_MAX == model_limit("service_code")
    assert sms4sats.contract.NUMBER_MAX == model_limit("number")
    assert sms4sats.contract.CODE_MAX == model_limit("code")
    assert sms4sats.contract.ORDER_ID_MAX == model_limit("upstream_id")
    assert sms4sats.contract.SMS_STATUS_MAX == model_limit("sms_status")


def keep(**fields):
    """Store what an order would keep from the parsed answers, then roll it back. The database must take it."""
    from django.db import transaction

    from orders.models import Order, OrderEvent

    raw = fields.pop("raw", None)
    note = fields.pop("note", "")
    for name, value in fields.items():
        limit = model_limit(name)
        if isinstance(value, str) and limit:
            assert len(value) <= limit, (name, value)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        order = Order.objects.create(kind="receive", quoted_sats=fields.pop("quoted_sats", 1), **fields)
        OrderEvent.objects.create(order=order, to_status="held", note=note, upstream=raw)
        raise Rollback


@pytest.mark.django_db
@settings(max_examples=80, deadline=None)
@given(
    number=hostile_value, code=hostile_value, sms_status=hostile_value, error=hostile_value,
    country=hostile_value, extra_key=hostile_text, extra=hostile_value,
)  # fmt: skip
def test_order_status_values_fit_the_order(number, code, sms_status, error, country, extra_key, extra):
    body = {"status": "OK", "paid": True, "number": number, "code": code, "smsStatus": sms_status,
            "error": error, "country": country, extra_key: extra}  # fmt: skip
    try:
        status = sms4sats.parse_order_status(body)
    except Sms4satsError:
        return
    keep(
        number=status.number or "",
        code=status.code or "",
        sms_status=status.sms_status or "",
        upstream_error=status.error or "",
        note=f"Payment canceled upstream: {status.error}",
        raw=status.raw,
    )


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(cc=hostile_value, name=hostile_value, code=hostile_value, weeks=hostile_value, price=hostile_value)
def test_catalog_values_fit_the_order(cc, name, code, weeks, price):
    for parse, body in (
        (sms4sats.parse_countries, [{"id": cc, "eng": name}]),
        (sms4sats.parse_services, [{"value": code, "text": name}]),
        (sms4sats.parse_rental_countries, [{"cc": cc, "country": name, "duration": weeks, "price": price}]),
    ):
        try:
            [entry] = parse(body) or [None]
        except Sms4satsError:
            continue
        if entry is None:
            continue
        if isinstance(entry, Service):
            keep(service_code=entry.code, service_name=entry.name)
        elif isinstance(entry, RentalCountry):
            keep(country_code=entry.cc, country_name=entry.name, rental_weeks=entry.weeks, quoted_sats=abs(entry.price))
        else:
            keep(country_code=entry.cc, country_name=entry.name)
    try:
        quote = sms4sats.parse_price({"computed": {"price": price, "country": cc}})
    except Sms4satsError:
        return
    if quote.price is not None:
        keep(quoted_sats=abs(quote.price))


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(order_id=hostile_value, payreq=hostile_text)
def test_created_order_values_fit_the_order(order_id, payreq):
    try:
        created = sms4sats.parse_created_order({"status": "OK", "orderId": order_id, "payreq": payreq})
    except Sms4satsError:
        return
    keep(upstream_id=created.order_id, bolt11=created.payreq, raw={"payreq": created.payreq})


@pytest.mark.parametrize(
    "field, value",
    [("number", "1" * 33), ("number", "+1 555 0100"), ("number", "١٢٣٤"), ("smsStatus", "s" * 11)],
)
def test_an_impossible_number_or_status_is_refused_and_the_payment_stands(field, value):
    status = sms4sats.parse_order_status({"status": "OK", "paid": True, "code": "4711", field: value})
    assert status.paid is True and status.code == "4711"
    assert [name for name, _ in status.refused] == [field]


def test_long_display_names_are_shortened():
    [country] = sms4sats.parse_countries([{"id": 5, "eng": "N\tame\x00 " + "x" * 300}])
    assert len(country.name) == 100 and country.name.startswith("N ame x") and country.name.endswith("…")
    [service] = sms4sats.parse_services([{"value": "tg", "text": "T" * 101}, {"value": "s" * 41, "text": "long code"}])
    assert service.code == "tg" and len(service.name) == 100  # a code the shop cannot store is not offered


@pytest.mark.django_db
def test_an_impossible_number_leaves_the_payment_applied_and_is_noted_once():
    """Over the poller's own path: the bad field is refused for that order only; its payment is applied."""
    from django.utils import timezone

    from orders import polling
    from orders.models import Order, Status
    from tests.factories import make_order

    def answer(request):
        order_id = request.url.params["orderId"]
        number = "1" * 40 if order_id == "bad" else "15550100"
        return httpx.Response(200, json={"status": "OK", "paid": True, "number": number})

    orders = [make_order(Status.UNPAID, quoted_sats=1, upstream_id="bad")]
    orders.append(make_order(Status.HELD, quoted_sats=1, upstream_id="good", paid_at=timezone.now()))

    async def fetch():
        async with sms4sats.AsyncSms4satsClient(
            base_url="http://upstream.invalid", transport=httpx.MockTransport(answer)
        ) as client:
            return await polling.fetch_statuses(["bad", "good"], 2, client)

    for _ in range(2):  # the same answer twice: one note on the timeline
        results = asyncio.run(fetch())
        assert dict(results["bad"].refused) == {"number": f"not a phone number: {'1' * 40!r}"}
        for order in orders:
            polling.apply_one(order, results[order.upstream_id])
    bad, good = (Order.objects.get(pk=o.pk) for o in orders)
    assert (bad.status, bad.number, bad.poll_failures) == ("held", "", 0)
    assert [e.note.split(":")[0] for e in bad.events.all()] == [
        "sms4sats sent fields the shop cannot use (the rest was applied)",
        "Payment held",
    ]
    assert (good.status, good.number) == ("waiting_code", "15550100")
