"""Unchanged status polls under gunicorn skip most middleware (shop/lean_poll.py): the same answer and headers
as through the whole stack (but the words' language, which an empty answer has none of), and everything the
cache cannot answer still goes through the whole stack."""

import pytest
from django.core.wsgi import get_wsgi_application
from django.urls import reverse

from orders import status_cache
from orders.models import Status
from shop.lean_poll import STATUS_PATH, with_lean_status_poll
from tests.factories import make_order
from tests.wsgi_call import call

pytestmark = pytest.mark.django_db

ONION = "q" * 52 + "d.onion"
# What only the whole stack adds: the language of the words (LocaleMiddleware). An empty answer has no words.
LANGUAGE_HEADERS = {"Content-Language", "Vary"}


@pytest.fixture
def apps(settings):
    settings.ALLOWED_HOSTS = ["localhost", "shop.example", ONION]
    shop = get_wsgi_application()
    calls = []

    def counted_shop(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return shop(environ, start_response)

    return shop, with_lean_status_poll(counted_shop), calls


def shown_version(order):
    status_cache.fill(order)
    return status_cache.PollState.of(order).version_at(0)


def both(apps, path, **kwargs):
    shop, lean, calls = apps
    calls.clear()
    full = call(shop, path, **kwargs)
    answer = call(lean, path, **kwargs)
    return full, answer, bool(calls)


def without_language(headers):
    return {name: value for name, value in headers.items() if name not in LANGUAGE_HEADERS}


def test_the_status_url_is_the_pattern_the_lean_path_knows():
    order = make_order(Status.WAITING_CODE, number="15550001234")
    assert STATUS_PATH.fullmatch(reverse("orders:status", args=[order.public_id]))


@pytest.mark.parametrize("status", [Status.WAITING_CODE, Status.COMPLETED])
def test_an_unchanged_poll_answers_alike_without_the_whole_stack(apps, status):
    order = make_order(status, number="15550001234", code="482913" if status == Status.COMPLETED else "")
    headers = {"X-Order-Version": shown_version(order), "HX-Request": "true"}
    full, answer, went_through = both(apps, reverse("orders:status", args=[order.public_id]), headers=headers)
    assert not went_through
    assert answer[0] == full[0] == ("204 No Content" if status == Status.WAITING_CODE else "286 Stop Polling")
    assert answer[2] == full[2] == b""
    assert without_language(answer[1]) == without_language(full[1])
    assert {"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} <= set(answer[1])
    assert answer[1]["Cache-Control"] == "no-store"


@pytest.fixture
def production(settings):
    """Before ``apps``: the security middleware reads its settings when the handler is made."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.ONION_ADDRESS = ONION


def test_https_behind_the_proxy_keeps_hsts_and_the_redirect(production, apps):
    order = make_order(Status.WAITING_CODE, number="15550001234")
    path = reverse("orders:status", args=[order.public_id])
    headers = {"X-Order-Version": shown_version(order), "X-Forwarded-Proto": "https"}
    full, answer, went_through = both(apps, path, headers=headers, host="shop.example")
    assert not went_through and answer[0].startswith("204")
    assert without_language(answer[1]) == without_language(full[1])
    assert answer[1]["Strict-Transport-Security"].startswith("max-age=3600")
    assert answer[1]["Onion-Location"] == f"http://{ONION}{path}"
    # Plain HTTP on the clearnet host: the redirect, before anything is looked up.
    plain = {"X-Order-Version": shown_version(order)}
    full, answer, _ = both(apps, path, headers=plain, host="shop.example")
    assert answer[0] == full[0] and answer[0].startswith("301")
    assert answer[1]["Location"] == full[1]["Location"] == f"https://shop.example{path}"
    # The onion host over plain HTTP: answered, without HSTS.
    full, answer, went_through = both(apps, path, headers=plain, host=ONION)
    assert not went_through and answer[0].startswith("204")
    assert "Strict-Transport-Security" not in answer[1]
    assert without_language(answer[1]) == without_language(full[1])


def test_what_the_cache_cannot_answer_goes_through_the_whole_stack(apps):
    order = make_order(Status.WAITING_CODE, number="15550001234")
    path = reverse("orders:status", args=[order.public_id])
    version = shown_version(order)
    cases = [
        ({"X-Order-Version": "0123456789abcdef", "HX-Request": "true"}, {}, "200"),  # the page is behind
        ({}, {}, "200"),  # no version: a first look
        ({"X-Order-Version": version}, {"host": "evil.example"}, "400"),  # a host Django refuses
        ({"X-Order-Version": version}, {"method": "POST"}, "403"),  # CSRF first
    ]
    for headers, options, code in cases:
        full, answer, went_through = both(apps, path, headers=headers, **options)
        assert went_through, (headers, options)
        assert answer[0] == full[0] and answer[0].startswith(code), (headers, options, answer[0])
        if code == "200":
            assert b"order-status" in answer[2], (headers, options)
    # An unknown order (a cache miss): the shop's 404 page.
    unknown = reverse("orders:status", args=["00000000-0000-4000-8000-000000000000"])
    full, answer, went_through = both(apps, unknown, headers={"X-Order-Version": version})
    assert went_through and answer[0] == full[0] and answer[0].startswith("404")
    # Another page is not looked at.
    _full, answer, went_through = both(apps, "/ping")
    assert went_through and answer[0].startswith("200")


def test_a_lean_answer_is_counted_and_marks_the_order_watched(apps):
    from orders import metrics
    from sms4sats_site.shared_redis import shared_redis

    def answered_204():
        metrics.flush(force=True)
        return int(shared_redis().hget(metrics.redis_key("status_partial_answers"), "204") or 0)

    order = make_order(Status.WAITING_CODE, number="15550001234")
    path = reverse("orders:status", args=[order.public_id])
    _shop, lean, calls = apps
    before = answered_204()
    call(lean, path, headers={"X-Order-Version": shown_version(order)})
    assert not calls
    assert answered_204() == before + 1
    assert status_cache.watched([order.public_id]) == {order.public_id}


def test_gunicorns_application_answers_unchanged_polls_the_lean_way(settings):
    from sms4sats_site.wsgi import application

    settings.ALLOWED_HOSTS = ["localhost"]
    order = make_order(Status.WAITING_CODE, number="15550001234")
    headers = {"X-Order-Version": shown_version(order), "Accept-Language": "ru"}
    status, answer, _ = call(application, reverse("orders:status", args=[order.public_id]), headers=headers)
    assert status.startswith("204")
    assert "Content-Language" not in answer  # the whole stack's LocaleMiddleware would have said "ru"
    status, answer, _ = call(application, "/ping", headers={"Accept-Language": "ru"})
    assert status.startswith("200") and answer["Content-Language"] == "ru"


def test_a_poll_passed_on_to_the_whole_stack_looks_at_the_cache_once(apps, monkeypatch):
    order = make_order(Status.WAITING_CODE, number="15550001234")
    _shop, lean, calls = apps
    looks = []
    look = status_cache.poll
    monkeypatch.setattr(status_cache, "poll", lambda public_id: looks.append(public_id) or look(public_id))
    headers = {"X-Order-Version": "0123456789abcdef", "HX-Request": "true"}  # the page is behind: a render
    status, _headers, body = call(lean, reverse("orders:status", args=[order.public_id]), headers=headers)
    assert calls and status.startswith("200") and b"order-status" in body
    assert looks == [str(order.public_id)]  # the whole stack used the lean handler's look
