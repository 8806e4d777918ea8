"""Arbitrary values into every form field, query parameter, header and URL part of the storefront: the answer
is always a page with a message, a redirect or a 4xx, never a 500 (no network: the catalog is faked)."""

import uuid
from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Kind, Status
from tests.factories import make_order
from tests.fake_upstream import FakeUpstream

pytestmark = pytest.mark.django_db


def fuzz(examples):
    """Examples per test: each is one or more full page renders; the whole file stays under a minute."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Text a browser can send (no lone surrogates: they cannot be encoded at all), NUL and controls included.
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
numberish = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["43", "999", "0", "16", "187", "6", " 43 ", "4.3e1", "43.0", "0x2b", "-0", "", "NaN", "١٢"]),
    st.floats().map(str),
    text,
)
serviceish = st.one_of(st.sampled_from(["tg", "wa", "go", "ds", "", " tg", "TG", "tg\x00"]), text)
phoneish = st.one_of(
    st.sampled_from(["+447911123456", "+14155550123", "00447911123456", "+44 (0) 7911 123456", "+999", "+"]),
    st.from_regex(r"\+?[0-9 ()\-.]{0,40}", fullmatch=True),
    text,
)
# Extra fields and repeated values (a list: several values under one name).
value = st.one_of(text, st.lists(text, max_size=3))
extra = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20), value, max_size=3
)


@pytest.fixture
def upstream(upstream, settings):
    """conftest's scripted upstream, with the order limits out of the fuzzer's way."""
    settings.ORDER_RATE_PER_IP = settings.ORDER_RATE_PER_SESSION = "1000000/m"
    return upstream


def browser():
    return Client(raise_request_exception=False)


def assert_answered(response, *, post=False):
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if post and response.status_code == 200:
        html = response.content.decode()
        assert 'class="field-error"' in html or 'role="alert"' in html or 'class="notice' in html, html[:2000]


def merged(fields, extras):
    data = dict(extras)
    data.update({k: v for k, v in fields.items() if v is not None})
    return data


@fuzz(50)
@given(country=st.one_of(st.none(), numberish), service=st.one_of(st.none(), serviceish), extras=extra)
def test_home_picker_post(upstream, country, service, extras):
    assert_answered(browser().post("/", merged({"country": country, "service": service}, extras)), post=True)


@fuzz(30)
@given(country=st.one_of(st.none(), numberish), extras=extra)
def test_home_get(upstream, country, extras):
    assert_answered(browser().get("/", merged({"country": country}, extras)))


@fuzz(60)
@given(
    country=st.one_of(st.none(), numberish), service=st.one_of(st.none(), serviceish), extras=extra, htmx=st.booleans()
)
def test_services_and_price_fragments(upstream, country, service, extras, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    client = browser()
    assert_answered(client.get("/catalog/services", merged({"country": country}, extras), headers=headers))
    assert_answered(
        client.get("/catalog/price", merged({"country": country, "service": service}, extras), headers=headers)
    )


@fuzz(60)
@given(
    phone=st.one_of(st.none(), phoneish),
    message=st.one_of(st.none(), text, st.text(min_size=130, max_size=160)),
    extras=extra,
)
def test_send_form(upstream, phone, message, extras):
    assert_answered(browser().post("/send/", merged({"phone": phone, "message": message}, extras)), post=True)


@fuzz(40)
@given(country=st.one_of(st.none(), numberish), extras=extra)
def test_rent_form(upstream, country, extras):
    client = browser()
    assert_answered(client.post("/rent/", merged({"country": country}, extras)), post=True)
    assert_answered(client.get("/rent/", merged({"country": country}, extras)))


@fuzz(60)
@given(
    raw=st.binary(max_size=200),
    path=st.sampled_from(
        ["/", "/catalog/services", "/catalog/price", "/send/", "/rent/", "/orders/", "/how-it-works/"]
    ),
)
def test_raw_query_strings(upstream, raw, path):
    """Undecodable bytes, broken percent escapes, a thousand ampersands: whatever a client puts after the ?."""
    client = browser()
    assert_answered(client.get(f"{path}?{quote_from_bytes(raw, safe='=&%+;')}"))
    assert_answered(client.get(path, QUERY_STRING=raw.decode("latin-1")))


@fuzz(40)
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/json", "text/plain"]
    ),
)
def test_raw_bodies(upstream, raw, content_type):
    client = browser()
    for path in ("/", "/send/", "/rent/"):
        assert_answered(client.post(path, raw, content_type=content_type))


@pytest.fixture
def orders(db):
    return [
        make_order(Status.UNPAID),
        make_order(Status.WAITING_CODE, number="4915123456789"),
        make_order(Status.COMPLETED, number="4915123456789", code="123456"),
        make_order(Status.HELD, kind=Kind.SEND),
        make_order(Status.REFUNDED, refund_reason="legacy-rsn"),
    ]


@fuzz(80)
@given(segment=text, suffix=st.sampled_from(["/", "/status", "/cancel", ""]), post=st.booleans())
def test_order_urls_with_any_id(upstream, segment, suffix, post):
    client = browser()
    url = f"/o/{quote(segment, safe='')}{suffix}"
    assert_answered(client.post(url) if post else client.get(url))


@fuzz(40)
@given(
    which=st.integers(0, 4),
    version=text,
    extras=extra,
    htmx_headers=st.dictionaries(
        st.sampled_from(["HX-Request", "HX-Trigger", "HX-Target", "HX-Current-URL", "HX-Boosted", "HX-Prompt"]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=50),
        max_size=4,
    ),
)
def test_order_page_status_and_cancel(upstream, orders, which, version, extras, htmx_headers):
    order = orders[which]
    client = browser()
    headers = dict(htmx_headers)
    if version.isprintable() and version.isascii():
        headers["X-Order-Version"] = version
    assert_answered(client.get(order.get_absolute_url(), extras, headers=headers))
    assert_answered(client.get(f"/o/{order.public_id}/status", extras, headers=headers))
    response = client.post(f"/o/{order.public_id}/cancel", extras)
    assert response.status_code == 302  # refused or accepted, always back to the order page with a message


@fuzz(80)
@given(secret=text, body=st.binary(max_size=200), known=st.booleans())
def test_send_webhook(upstream, orders, secret, body, known):
    order = orders[3]
    public_id = order.public_id if known else uuid.uuid4()
    response = browser().post(
        f"/hooks/send/{public_id}/{quote(secret, safe='')}", body, content_type="application/json"
    )
    assert response.status_code in (204, 404)


@fuzz(25)
@given(
    country=st.one_of(st.none(), numberish),
    service=st.one_of(st.none(), serviceish),
    phone=st.one_of(st.none(), phoneish),
    message=st.one_of(st.none(), text),
)
def test_everything_with_sms4sats_down(monkeypatch, settings, country, service, phone, message):
    settings.ORDER_RATE_PER_IP = settings.ORDER_RATE_PER_SESSION = "1000000/m"
    fake = FakeUpstream().install(monkeypatch)
    fake.down = True
    client = browser()
    assert_answered(client.post("/", merged({"country": country, "service": service}, {})), post=True)
    assert_answered(client.get("/catalog/services", merged({"country": country}, {})))
    assert_answered(client.get("/catalog/price", merged({"country": country, "service": service}, {})))
    assert_answered(client.post("/send/", merged({"phone": phone, "message": message}, {})), post=True)
    assert_answered(client.post("/rent/", merged({"country": country}, {})), post=True)
