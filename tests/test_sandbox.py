"""The sandbox (simulated sms4sats): shapes and JSON types, invoices, time-driven state, scenarios,
the prepaid account, webhooks, faults, bad input, and the wallet."""

import hashlib
import json
import time
from datetime import timedelta
from unittest import mock

import bolt11
import httpx
import pytest
from django.test import Client
from django.utils import timezone

from sandbox import catalog
from sandbox.models import NO_NUMBER_ERROR, SandboxOrder
from sandbox.tasks import deliver_due_webhooks
from sandbox.wallet import pay_invoice
from tests.waiting import until

pytestmark = pytest.mark.django_db

API = "/sandbox/api"
KEY = {"HTTP_X_API_KEY": "sandbox-api-key"}
HEX = set("0123456789abcdef")


class FakeClock:
    def __init__(self):
        self.t = timezone.now()

    def __call__(self):
        return self.t

    def advance(self, seconds):
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr("sandbox.clock.now", fake)
    return fake


@pytest.fixture
def client():
    return Client()


def get(client, path, status=200, **params):
    headers = {k: params.pop(k) for k in list(params) if k.startswith("HTTP_")}
    response = client.get(API + path, params, **headers)
    assert response.status_code == status, response.content
    return response.json()


def post(client, path, body, status=200, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = client.post(API + path, data, content_type="application/json", **headers)
    assert response.status_code == status, response.content
    return response.json()


def assert_error(body):
    assert body["status"] == "error"
    assert isinstance(body["reason"], str) and body["reason"]


def create(client, **body):
    body = {"country": 187, "service": "tg", **body}
    return post(client, "/createorder", body)


def status(client, order_id):
    return get(client, "/orderstatus", orderId=order_id)


def pay(payreq):
    ok, reason = pay_invoice(payreq)
    assert ok, reason


# --- shapes ------------------------------------------------------------------------------------


def test_root_is_up(client):
    assert client.get(API + "/").status_code == 200
    assert client.get(API).status_code == 200


def test_get_countries_is_a_bare_array_one_per_cc_auto_select_first(client):
    body = get(client, "/getCountries")
    assert isinstance(body, list)
    assert body[0] == {"id": 999, "eng": "Auto-Select", "visible": 1, "rent": 0}
    ids = [c["id"] for c in body]
    assert len(ids) == len(set(ids))
    by_id = {c["id"]: c for c in body}
    assert by_id[187]["eng"] == "USA" and by_id[0]["eng"] == "Russia" and by_id[16]["eng"] == "England"
    for c in body:
        assert set(c) == {"id", "eng", "visible", "rent"}
        assert isinstance(c["id"], int) and isinstance(c["eng"], str) and c["rent"] in (0, 1)
    assert by_id[6]["rent"] == 1


def test_getnumbersstatus_services(client):
    body = get(client, "/getnumbersstatus", country=187)
    assert isinstance(body, list) and len(body) >= 25
    values = {s["value"] for s in body}
    assert {"tg", "wa", "go", "ot", "oi", "nonumber", "nocode"} <= values
    for s in body:
        assert set(s) == {"key", "text", "value", "count", "image"}
        assert isinstance(s["count"], str) and s["count"].isdigit()
        assert isinstance(s["text"], str) and s["key"] == s["value"]
        assert isinstance(s["image"]["avatar"], bool) and isinstance(s["image"]["src"], str)
    assert {s["value"]: s["text"] for s in body}["tg"] == "Telegram"
    # Deterministic per country, different between countries.
    assert get(client, "/getnumbersstatus", country=187) == body
    assert get(client, "/getnumbersstatus", country=999) != body
    assert get(client, "/getnumbersstatus", country="germany") == get(client, "/getnumbersstatus", country=43)


def test_get_rental_countries(client):
    body = get(client, "/getRentalCountries")
    assert isinstance(body, list) and body
    for r in body:
        assert set(r) == {"cc", "country", "duration", "price"}
        assert isinstance(r["cc"], int) and isinstance(r["country"], str)
        assert isinstance(r["duration"], str) and r["duration"].isdigit()
        assert isinstance(r["price"], int) and 1000 <= r["price"] <= 6000
    assert body == get(client, "/getRentalCountries", service="full")
    fb = get(client, "/getRentalCountries", service="fb")
    assert fb and len(fb) <= len(body)
    rentable = {c["id"] for c in get(client, "/getCountries") if c["rent"]}
    assert {r["cc"] for r in body} == rentable


def test_price_types_and_resolution(client):
    body = get(client, "/price", country="us", service="google")
    assert isinstance(body["receive"], str) and isinstance(body["s4s"], str)
    assert isinstance(body["send"], int) and isinstance(body["rent"], int)
    assert body["query"] == {"country": "us", "service": "google"}
    computed = body["computed"]
    assert computed["country"] == 187 and isinstance(computed["price"], int)
    assert body["receive"] == str(computed["price"])
    assert isinstance(computed["description"], str)
    # Numbers, names and short/long service names resolve to the same price.
    same = [
        get(client, "/price", country=187, service="go")["computed"]["price"],
        get(client, "/price", country="USA", service="Google")["computed"]["price"],
        get(client, "/price", country="united states", service="gmail")["computed"]["price"],
    ]
    assert same == [computed["price"]] * 3
    assert get(client, "/price", country="Germany", service="tg")["computed"]["country"] == 43
    assert get(client, "/price", country="Russia", service="other")["computed"]["country"] == 0


def test_price_without_params_is_generic(client):
    body = get(client, "/price")
    assert set(body) == {"receive", "send", "rent", "s4s"}
    assert isinstance(body["receive"], str) and isinstance(body["send"], int) and isinstance(body["rent"], int)


def test_prices_are_in_range_everywhere():
    for cc in catalog.country_names():
        for code, _, _ in catalog.SERVICES:
            assert 1000 <= catalog.receive_price(cc, code) <= 6000
        assert 1000 <= catalog.rental_price(cc) <= 6000


# --- invoices ----------------------------------------------------------------------------------


def test_createorder_invoice_matches_price(client, settings):
    quoted = get(client, "/price", country=43, service="wa")["computed"]["price"]
    body = create(client, country=43, service="wa", realphone=False, ref="op@example.com", isRental=False)
    assert set(body) == {"status", "orderId", "payreq"} and body["status"] == "OK"
    assert len(body["orderId"]) == 64 and set(body["orderId"]) <= HEX
    invoice = bolt11.decode(body["payreq"])
    assert body["payreq"].startswith("lnbcrt")
    assert invoice.currency == "bcrt"
    assert invoice.amount_msat == quoted * 1000
    assert invoice.payment_hash == body["orderId"]
    assert invoice.expiry == settings.SANDBOX_INVOICE_EXPIRY
    assert invoice.payment_secret
    assert status(client, body["orderId"]) == {"status": "OK", "paid": False}


def test_createorder_accepts_names(client):
    body = create(client, country="Russia", service="other")
    order = SandboxOrder.objects.get(order_id=body["orderId"])
    assert (order.country, order.service) == (0, "ot")


def test_rental_order_invoice_is_the_rental_price(client, clock):
    offer = get(client, "/getRentalCountries")[0]
    body = create(client, country=offer["cc"], service="full", isRental=True)
    assert bolt11.decode(body["payreq"]).amount_msat == offer["price"] * 1000
    assert get(client, "/price", country=offer["cc"], service="tg")["rent"] == offer["price"]
    pay(body["payreq"])
    clock.advance(3.1)
    assert isinstance(status(client, body["orderId"])["number"], int)
    clock.advance(200)
    assert_error(get(client, "/cancelorder", 400, orderId=body["orderId"]))
    # Rental only where offered.
    assert_error(post(client, "/createorder", {"country": 999, "service": "full", "isRental": True}, 400))


def test_rental_sms_follow_the_clock_within_the_rental(client, clock, settings):
    settings.SANDBOX_RENTAL_SMS_INTERVAL = 3600
    settings.SANDBOX_RENTAL_SMS_COUNT = 1000
    offer = get(client, "/getRentalCountries")[0]
    body = create(client, country=offer["cc"], service="full", isRental=True)
    pay(body["payreq"])
    clock.advance(3.1)
    assert "code" not in status(client, body["orderId"])
    seen = []
    for _ in range(5):
        clock.advance(3600)
        seen.append(status(client, body["orderId"])["code"])
    assert len(set(seen)) == 5 and all(isinstance(code, int) and code >= 10000 for code in seen)
    clock.advance(int(offer["duration"]) * 7 * 24 * 3600)  # past the rental's end: no more SMS
    last = status(client, body["orderId"])
    clock.advance(3 * 3600)
    assert status(client, body["orderId"]) == last and "error" not in last
    order = SandboxOrder.objects.get(order_id=body["orderId"])
    assert len(order.rental_sms_times()) == int(offer["duration"]) * 7 * 24  # one an hour, within its weeks


# --- time-driven receive orders ----------------------------------------------------------------


def test_receive_order_progresses_with_time(client, clock):
    body = create(client, country=22, service="dr")
    order_id = body["orderId"]
    pay(body["payreq"])
    assert status(client, order_id) == {"status": "OK", "paid": True}
    clock.advance(3.1)
    waiting = status(client, order_id)
    assert waiting["paid"] is True and "code" not in waiting
    assert isinstance(waiting["number"], int) and isinstance(waiting["id"], int)
    assert isinstance(waiting["timestamp"], int) and waiting["timestamp"] > 1_600_000_000_000
    assert waiting["country"] == "India" and waiting["service"] == "openAI"
    clock.advance(15)
    done = status(client, order_id)
    assert isinstance(done["code"], int) and 10000 <= done["code"] <= 99999
    assert {k: v for k, v in done.items() if k != "code"} == waiting
    assert "error" not in done


def test_auto_select_gets_a_real_country_name(client, clock):
    body = create(client, country=999, service="ot")
    pay(body["payreq"])
    clock.advance(4)
    names = {catalog.country_names()[cc] for cc in catalog.AUTO_SELECT_POOL}
    assert status(client, body["orderId"])["country"] in names


def test_cancel_rules(client, clock):
    body = create(client)
    order_id = body["orderId"]
    reason = get(client, "/cancelorder", 400, orderId=order_id)
    assert "not paid" in reason["reason"]
    pay(body["payreq"])
    clock.advance(10)
    assert_error(get(client, "/cancelorder", 400, orderId=order_id))  # too early (before 120 s)
    # A code arrived at 18 s: now it is settled and can never be canceled.
    clock.advance(115)
    assert "code" in status(client, order_id)
    assert "settled" in get(client, "/cancelorder", 400, orderId=order_id)["reason"]


def test_cancel_after_two_minutes_without_code(client, clock):
    body = create(client, service="nocode")
    pay(body["payreq"])
    clock.advance(121)
    assert get(client, "/cancelorder", orderId=body["orderId"]) == {"status": "OK"}
    canceled = status(client, body["orderId"])
    assert canceled["paid"] is True and "canceled" in canceled["error"] and "code" not in canceled
    assert isinstance(canceled["number"], int)
    assert_error(get(client, "/cancelorder", 400, orderId=body["orderId"]))  # already canceled
    clock.advance(3600)
    assert "code" not in status(client, body["orderId"])


def test_auto_cancel_without_code(client, clock, settings):
    body = create(client, service="nocode")
    pay(body["payreq"])
    clock.advance(settings.SANDBOX_AUTO_CANCEL - 1)
    assert "error" not in status(client, body["orderId"])
    clock.advance(2)
    timed_out = status(client, body["orderId"])
    assert timed_out["paid"] is True and "returned" in timed_out["error"] and "code" not in timed_out
    assert_error(get(client, "/cancelorder", 400, orderId=body["orderId"]))


def test_code_later_than_auto_cancel_times_out(client, clock, settings):
    settings.SANDBOX_CODE_DELAY = 2000
    body = create(client)
    pay(body["payreq"])
    clock.advance(settings.SANDBOX_AUTO_CANCEL + 1)
    assert "error" in status(client, body["orderId"])


def test_no_number_scenario(client, clock):
    body = create(client, service="nonumber")
    pay(body["payreq"])
    clock.advance(3.1)
    assert status(client, body["orderId"]) == {"status": "OK", "paid": True, "error": NO_NUMBER_ERROR}


def test_expired_invoice_cannot_be_paid(client, clock, settings):
    body = create(client)
    clock.advance(settings.SANDBOX_INVOICE_EXPIRY + 1)
    ok, reason = pay_invoice(body["payreq"])
    assert not ok and "expired" in reason
    assert status(client, body["orderId"]) == {"status": "OK", "paid": False}


# --- send orders -------------------------------------------------------------------------------


def test_send_order_progresses(client, clock):
    body = post(client, "/createsendorder", {"message": "hello", "phone": "+19871234567"})
    invoice = bolt11.decode(body["payreq"])
    assert invoice.amount_msat == get(client, "/price")["send"] * 1000
    assert status(client, body["orderId"]) == {"status": "OK", "paid": False}
    pay(body["payreq"])
    created = status(client, body["orderId"])
    assert set(created) == {"status", "paid", "id", "smsStatus", "timestamp"}
    assert created["smsStatus"] == "created" and isinstance(created["id"], str) and created["id"].startswith("SM")
    clock.advance(3.1)
    assert status(client, body["orderId"])["smsStatus"] == "sent"
    clock.advance(5)
    assert status(client, body["orderId"])["smsStatus"] == "delivered"
    assert_error(get(client, "/cancelorder", 400, orderId=body["orderId"]))


def test_send_to_0000_fails(client, clock):
    body = post(client, "/createsendorder", {"message": "hi", "phone": "+4915112340000"})
    pay(body["payreq"])
    clock.advance(60)
    assert status(client, body["orderId"])["smsStatus"] == "failed"


# --- global scenarios --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario, check",
    [
        ("no_number", lambda s: s.get("error") == NO_NUMBER_ERROR),
        ("no_code", lambda s: "number" in s and "code" not in s),
    ],
)
def test_global_receive_scenarios(client, clock, scenario, check):
    set_control(client, {"scenario": scenario})
    body = create(client)
    pay(body["payreq"])
    clock.advance(60)
    assert check(status(client, body["orderId"]))


def test_global_sms_fail(client, clock):
    set_control(client, {"scenario": "sms_fail"})
    body = post(client, "/createsendorder", {"message": "hi", "phone": "+447911123456"})
    pay(body["payreq"])
    clock.advance(60)
    assert status(client, body["orderId"])["smsStatus"] == "failed"


# --- prepaid account ---------------------------------------------------------------------------


def test_key_required(client):
    for path in ("/balance", "/history"):
        assert get(client, path, 400) == {"status": "error", "reason": "X-API-Key header is missing."}
        assert_error(get(client, path, 400, HTTP_X_API_KEY="wrong"))
    assert post(client, "/fund", {"amount": 1000}, 400) == {"status": "error", "reason": "X-API-Key header is missing."}
    assert_error(post(client, "/fund", {"amount": 1000}, 400, HTTP_X_API_KEY="wrong"))
    assert_error(post(client, "/createorder", {"country": 187, "service": "tg", "immediate": True}, 400))
    assert_error(post(client, "/createsendorder", {"message": "x", "phone": "+447911123456", "immediate": True}, 400))


def test_fund_balance_history_immediate(client, clock):
    assert get(client, "/balance", **KEY) == {"status": "OK", "balance": 0}
    assert get(client, "/history", **KEY) == {"status": "OK", "totalAmount": 0, "orders": []}
    # Not enough balance for an immediate order.
    assert (
        "balance"
        in post(client, "/createorder", {"country": 187, "service": "tg", "immediate": True}, 400, **KEY)["reason"]
    )
    fund = post(client, "/fund", {"amount": 9500}, **KEY)
    assert bolt11.decode(fund["payreq"]).amount_msat == 9_500_000
    assert get(client, "/balance", **KEY)["balance"] == 0  # not paid yet
    pay(fund["payreq"])
    assert get(client, "/balance", **KEY)["balance"] == 9500
    history = get(client, "/history", **KEY)
    assert history["totalAmount"] == 9500
    [entry] = history["orders"]
    assert set(entry) == {"amount", "createdAt", "desc", "description", "holdinvoice", "preimage", "preimageHash",
                          "price", "userId"}  # fmt: skip
    assert entry["amount"] == entry["price"] == 9500 and entry["holdinvoice"] is True
    assert entry["preimageHash"] == fund["orderId"] and entry["userId"] == "sandbox-api-key"
    assert isinstance(entry["createdAt"], int) and entry["description"] == "fund account"
    assert hashlib.sha256(bytes.fromhex(entry["preimage"])).hexdigest() == entry["preimageHash"]

    price = get(client, "/price", country=187, service="tg")["computed"]["price"]
    order = post(client, "/createorder", {"country": 187, "service": "tg", "immediate": True}, **KEY)
    assert order["payreq"] == "paid" and len(order["orderId"]) == 64
    assert status(client, order["orderId"])["paid"] is True
    assert get(client, "/balance", **KEY)["balance"] == 9500 - price
    send = post(client, "/createsendorder", {"message": "x", "phone": "+447911123456", "immediate": True}, **KEY)
    assert send["payreq"] == "paid"
    assert get(client, "/balance", **KEY)["balance"] == 9500 - price - 3000
    # An immediate order whose payment is canceled counts back into the balance.
    nonumber = post(client, "/createorder", {"country": 187, "service": "nonumber", "immediate": True}, **KEY)
    assert get(client, "/balance", **KEY)["balance"] == 9500 - price - 3000 - 1000
    clock.advance(4)
    assert status(client, nonumber["orderId"])["error"] == NO_NUMBER_ERROR
    assert get(client, "/balance", **KEY)["balance"] == 9500 - price - 3000


def test_balance_lock_never_frees_another_holders_lock():
    """A holder that outlived its lock must not delete the lock another holder has taken since."""
    from sandbox.api import ApiError, key_lock
    from sms4sats_site.shared_redis import shared_key, shared_redis

    name = shared_key("sandbox:balance-lock:slow-key")
    with key_lock("slow-key", hold_seconds=0.2):
        until(lambda: not shared_redis().exists(name), what="the lock's expiry")  # expired meanwhile
        other = shared_redis().lock(name, timeout=10)
        assert other.acquire(blocking=False)
    assert other.owned()  # still the other holder's lock
    with pytest.raises(ApiError, match="busy"), mock.patch("redis.lock.Lock.acquire", return_value=False):
        with key_lock("slow-key"):
            pass
    other.release()
    with key_lock("slow-key"):  # free again
        assert shared_redis().get(name) is not None
    assert shared_redis().get(name) is None


# --- webhooks ----------------------------------------------------------------------------------


@pytest.fixture
def webhook_receiver(settings, receiver):
    """A stand-in for the shop's webhook view, at the shop's address (the only one the sandbox posts to)."""
    settings.PUBLIC_BASE_URL = f"http://127.0.0.1:{receiver.port}"
    return receiver


def posted(receiver):
    return [post.json() for post in receiver.posts]


def test_webhooks_post_each_sms_status_once(client, clock, webhook_receiver):
    url = webhook_receiver.url
    body = post(client, "/createsendorder", {"message": "hi", "phone": "+447911123456", "webhookUrl": url})
    deliver_due_webhooks()
    assert posted(webhook_receiver) == []  # unpaid: nothing to say
    pay(body["payreq"])
    deliver_due_webhooks()
    assert [r["smsStatus"] for r in posted(webhook_receiver)] == ["created"]
    deliver_due_webhooks()
    assert len(posted(webhook_receiver)) == 1
    clock.advance(60)
    deliver_due_webhooks()
    assert [r["smsStatus"] for r in posted(webhook_receiver)] == ["created", "sent", "delivered"]
    assert posted(webhook_receiver)[-1] == status(client, body["orderId"])
    assert all(r["id"] == posted(webhook_receiver)[0]["id"] and r["paid"] is True for r in posted(webhook_receiver))


def test_webhook_failed_and_unreachable(client, clock, webhook_receiver, settings):
    url = webhook_receiver.url
    failing = post(client, "/createsendorder", {"message": "hi", "phone": "+447911120000", "webhookUrl": url})
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # the shop was there when this order was made
    dead = post(client, "/createsendorder", {"message": "hi", "phone": "+447911123456",
                                             "webhookUrl": "http://127.0.0.1:9/nothing"})  # fmt: skip
    settings.PUBLIC_BASE_URL = url.removesuffix("/hook")
    pay(failing["payreq"])
    pay(dead["payreq"])
    clock.advance(60)
    deliver_due_webhooks()  # the unreachable one is ignored
    assert [r["smsStatus"] for r in posted(webhook_receiver)] == ["created", "failed"]


@pytest.mark.parametrize(
    "webhook_url",
    ["http://169.254.169.254/latest/meta-data", "http://127.0.0.1:6379/", "https://example.com/hook",
     "http://testserver.evil.example/hook", "https://127.0.0.1:8000/hook"],
)  # fmt: skip
def test_webhooks_go_only_to_the_shops_own_address(client, webhook_url, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    body = {"message": "hi", "phone": "+447911123456", "webhookUrl": webhook_url}
    assert "PUBLIC_BASE_URL" in post(client, "/createsendorder", body, 400)["reason"]
    own = post(client, "/createsendorder", {**body, "webhookUrl": "http://127.0.0.1:8000/orders/x/webhook"})
    assert own["status"] == "OK"


def test_a_stored_foreign_webhook_is_never_posted(client, clock, webhook_receiver, settings):
    url = webhook_receiver.url
    body = post(client, "/createsendorder", {"message": "hi", "phone": "+447911123456", "webhookUrl": url})
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # the shop moved: the old address is foreign now
    pay(body["payreq"])
    clock.advance(60)
    deliver_due_webhooks()
    assert posted(webhook_receiver) == []


# --- faults and control ------------------------------------------------------------------------


SAME_ORIGIN = {"Origin": "http://testserver"}


def set_control(client, data, status=200):
    response = client.post("/sandbox/control", data, content_type="application/json", headers=SAME_ORIGIN)
    assert response.status_code == status, response.content
    return response.json()


def test_control_read_and_validate(client):
    assert client.get("/sandbox/control").json() == {
        "scenario": None, "error_rate": 0.0, "slow_seconds": 0.0, "malformed_rate": 0.0,
    }  # fmt: skip
    assert set_control(client, {"scenario": "no_code", "error_rate": 0.5})["scenario"] == "no_code"
    assert client.get("/sandbox/control").json()["error_rate"] == 0.5
    for bad in ({"scenario": "nope"}, {"error_rate": 2}, {"slow_seconds": -1}, {"malformed_rate": "x"}, {"x": 1}, [1]):
        assert_error(set_control(client, bad, 400))
    assert_error(client.post("/sandbox/control", "{", content_type="application/json", headers=SAME_ORIGIN).json())


@pytest.mark.parametrize(
    "content_type, headers",
    [
        ("text/plain", {"Origin": "http://testserver"}),  # what a cross-site form can send without asking
        ("application/x-www-form-urlencoded", {"Origin": "http://testserver"}),
        ("application/json", {"Origin": "https://evil.example"}),
        ("application/json", {"Referer": "https://evil.example/page"}),
        ("application/json", {}),  # no origin at all
    ],
)
def test_control_takes_only_a_same_origin_json_post(client, content_type, headers):
    before = client.get("/sandbox/control").json()
    response = client.post("/sandbox/control", '{"scenario": "no_code"}', content_type=content_type, headers=headers)
    assert response.status_code == 403
    assert_error(response.json())
    assert client.get("/sandbox/control").json() == before
    referer = {"Referer": "http://testserver/sandbox/wallet/"}
    assert set_control(client, {"scenario": "no_code"}) == {**before, "scenario": "no_code"}
    response = client.post("/sandbox/control", {}, content_type="application/json", headers=referer)
    assert response.status_code == 200


def test_fault_error_rate(client):
    set_control(client, {"error_rate": 1})
    response = client.get(API + "/getCountries")
    assert response.status_code == 500
    assert response.json() == {"status": "error", "reason": "backend error"}
    assert client.get("/sandbox/control").status_code == 200  # the control itself is never faulty
    set_control(client, {})
    assert client.get(API + "/getCountries").status_code == 200


def test_fault_malformed_rate(client):
    set_control(client, {"malformed_rate": 1})
    response = client.get(API + "/price")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_fault_slow(client):
    set_control(client, {"slow_seconds": 0.3})
    started = time.monotonic()
    assert client.get(API + "/").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_the_sandbox_does_not_go_down_with_the_shops_redis(client):
    import redis

    from sandbox import control

    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with mock.patch.object(control, "shared_redis", return_value=down):
        assert control.get_control() == control.DEFAULTS
        assert client.get(API + "/").status_code == 200


def test_fault_forced_per_request(client):
    assert client.get(API + "/price", HTTP_X_SANDBOX_FAULT="error").status_code == 500
    response = client.get(API + "/price", HTTP_X_SANDBOX_FAULT="malformed")
    assert response.status_code == 200 and not response.content.decode().endswith("}")
    assert client.get(API + "/price").status_code == 200


# --- bad input ---------------------------------------------------------------------------------


BAD_GETS = [
    ("/getnumbersstatus", {}),
    ("/getnumbersstatus", {"country": "atlantis"}),
    ("/getnumbersstatus", {"country": 17}),  # a gap in the list
    ("/getRentalCountries", {"service": "nosuch"}),
    ("/price", {"country": "atlantis", "service": "tg"}),
    ("/price", {"country": 187, "service": "nosuch"}),
    ("/orderstatus", {}),
    ("/orderstatus", {"orderId": "0" * 64}),
    ("/cancelorder", {"orderId": "nope"}),
]
BAD_POSTS = [
    ("/createorder", "not json"),
    ("/createorder", "[1, 2]"),
    ("/createorder", {"service": "tg"}),
    ("/createorder", {"country": 187}),
    ("/createorder", {"country": "atlantis", "service": "tg"}),
    ("/createorder", {"country": 187, "service": "nosuch"}),
    ("/createorder", {"country": 187, "service": "tg", "isRental": "yes"}),
    ("/createorder", {"country": 187, "service": "full"}),
    ("/createsendorder", {"phone": "+447911123456"}),
    ("/createsendorder", {"message": "hi"}),
    ("/createsendorder", {"message": "x" * 141, "phone": "+447911123456"}),
    ("/createsendorder", {"message": "hi", "phone": "447911123456"}),
    ("/createsendorder", {"message": "hi", "phone": "+44 7911 123456"}),
    ("/createsendorder", {"message": "hi", "phone": "+1555"}),
    ("/createsendorder", {"message": "hi", "phone": 447911123456}),
    ("/createsendorder", {"message": "hi", "phone": "+447911123456", "webhookUrl": "ftp://x"}),
    ("/createsendorder", "{"),
]


@pytest.mark.parametrize("path, params", BAD_GETS)
def test_bad_get_input_gets_the_envelope(client, path, params):
    assert_error(get(client, path, 400, **params))


@pytest.mark.parametrize("path, body", BAD_POSTS)
def test_bad_post_input_gets_the_envelope(client, path, body):
    assert_error(post(client, path, body, 400))


@pytest.mark.parametrize("body", [{}, {"amount": 0}, {"amount": "1000"}, {"amount": True}, {"amount": 1.5}, "x"])
def test_bad_fund_amount(client, body):
    assert_error(post(client, "/fund", body, 400, **KEY))


def test_message_of_140_is_fine(client):
    post(client, "/createsendorder", {"message": "x" * 140, "phone": "+447911123456"})


def test_unknown_endpoint_and_wrong_method_answer_json(client):
    response = client.get(API + "/nosuch")
    assert response.status_code == 404 and response.json()["status"] == "error"
    assert_error(client.get(API + "/createorder").json())
    assert client.get(API + "/createorder").status_code == 405


def test_api_is_csrf_exempt():
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(API + "/createorder", {"country": 187, "service": "tg"}, content_type="application/json")
    assert response.status_code == 200


# --- the wallet --------------------------------------------------------------------------------


def test_pay_invoice_refusals(client):
    assert pay_invoice("") == (False, "No invoice given.")
    assert not pay_invoice("lnbcrt1garbage")[0]
    body = create(client)
    assert pay_invoice("lightning:" + body["payreq"].upper())[0]
    ok, reason = pay_invoice(body["payreq"])
    assert not ok and "already paid" in reason


def test_pay_invoice_unknown_to_the_sandbox(client):
    body = create(client)
    SandboxOrder.objects.filter(order_id=body["orderId"]).delete()
    ok, reason = pay_invoice(body["payreq"])
    assert not ok and "Unknown invoice" in reason


def test_wallet_page_and_pay(client):
    body = create(client)
    page = client.get("/sandbox/wallet/", {"payreq": body["payreq"], "next": "/orders/x"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="payreq"' in html and body["payreq"] in html and 'value="/orders/x"' in html
    assert "nonumber" in html and "0000" in html
    response = client.post("/sandbox/wallet/pay", {"payreq": body["payreq"], "next": "/orders/x"})
    assert response.status_code == 302 and response["Location"] == "/orders/x"
    again = client.post("/sandbox/wallet/pay", {"payreq": body["payreq"]})
    assert again.status_code == 400 and "already paid" in again.content.decode()


def test_wallet_pay_ignores_foreign_next_and_answers_json(client):
    body = create(client)
    response = client.post("/sandbox/wallet/pay", {"payreq": body["payreq"], "next": "https://evil.example/"})
    assert response.status_code == 200 and "Payment held" in response.content.decode()
    other = create(client)
    ok = client.post("/sandbox/wallet/pay", {"payreq": other["payreq"]}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    refused = client.post("/sandbox/wallet/pay", {"payreq": other["payreq"]}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and refused.json()["ok"] is False and refused.json()["reason"]


def test_wallet_pay_is_csrf_protected():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/sandbox/wallet/pay", {"payreq": "x"}).status_code == 403


# --- over real HTTP ----------------------------------------------------------------------------


def test_sandbox_over_http(sandbox_url):
    with httpx.Client(base_url=sandbox_url, timeout=5) as http:
        assert http.get("/").status_code == 200
        countries = http.get("/getCountries").json()
        assert countries[0]["id"] == 999
        order = http.post("/createorder", json={"country": 187, "service": "tg"}).json()
        assert order["status"] == "OK"
        assert http.get("/orderstatus", params={"orderId": order["orderId"]}).json() == {"status": "OK", "paid": False}
        bad = http.post("/createsendorder", json={"message": "hi", "phone": "123"})
        assert bad.status_code == 400 and bad.json()["status"] == "error"


def test_paying_schedules_one_webhook_task_per_status(
    client, clock, monkeypatch, django_capture_on_commit_callbacks, settings
):
    scheduled = []
    monkeypatch.setattr(
        "sandbox.tasks.deliver_order_webhooks.apply_async",
        lambda args, countdown: scheduled.append((args[0], round(countdown, 1))),
    )
    settings.PUBLIC_BASE_URL = "http://x"
    body = post(client, "/createsendorder", {"message": "hi", "phone": "+447911123456", "webhookUrl": "http://x/"})
    with django_capture_on_commit_callbacks(execute=True):
        pay(body["payreq"])
    assert scheduled == [(body["orderId"], 0.2), (body["orderId"], 3.2), (body["orderId"], 8.2)]


def test_unexpected_errors_are_the_500_envelope(client, monkeypatch):
    monkeypatch.setattr("sandbox.catalog.countries", lambda: 1 / 0)
    response = client.get(API + "/getCountries")
    assert response.status_code == 500
    assert response.json() == {"status": "error", "reason": "backend error"}
