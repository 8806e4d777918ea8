"""The status cache: unchanged polls answered without a query, and never a stale "nothing changed"."""

import time
from datetime import timedelta
from unittest import mock

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle, status_cache
from orders.models import Kind, Order, Status
from orders.status_cache import PollState
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def poll(client, order, version=None):
    headers = {"X-Order-Version": version} if version else {}
    return client.get(reverse("orders:status", args=[order.public_id]), headers=headers)


def shown_version(client, order):
    html = client.get(order.get_absolute_url()).content.decode()
    return html.split('data-version="')[1].split('"')[0]


def test_an_unchanged_poll_costs_no_query_once_cached(client, django_assert_num_queries):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    version = shown_version(client, order)
    with django_assert_num_queries(1):  # a miss: the row, and the entry is filled
        assert poll(client, order, version).status_code == 204
    with django_assert_num_queries(0):
        response = poll(client, order, version)
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"


def test_a_lifecycle_change_shows_at_the_next_poll(client, django_capture_on_commit_callbacks):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    version = shown_version(client, order)
    assert poll(client, order, version).status_code == 204  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(order, Status.COMPLETED, code="482913", completed_at=timezone.now())
    response = poll(client, order, version)
    assert response.status_code == 286
    assert "482913" in response.content.decode()


def test_a_sms_status_change_is_a_change_too(client, django_capture_on_commit_callbacks):
    order = make_order(Status.COMPLETED, kind=Kind.SEND, sms_status="sent", completed_at=timezone.now())
    order.next_poll_at = timezone.now()
    order.save()
    version = shown_version(client, order)
    assert poll(client, order, version).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.record_change(order, note="SMS delivered", sms_status="delivered")
    response = poll(client, order, version)
    assert response.status_code == 286  # delivered: nothing more to watch
    assert 'aria-current="step">Delivered' in response.content.decode()


def test_the_engine_letting_go_of_a_final_order_stops_the_page(client, django_capture_on_commit_callbacks):
    # Expired but still watched (a late payment would show), then the grace window ends.
    expired_long_ago = timezone.now() - timedelta(hours=1)
    order = make_order(Status.EXPIRED, invoice_expires_at=expired_long_ago, next_poll_at=timezone.now())
    version = shown_version(client, order)
    assert poll(client, order, version).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.schedule_next_polls([order])
    assert order.next_poll_at is None
    response = poll(client, order, version)
    assert response.status_code == 286 and response.content == b""


def test_a_view_that_read_an_older_row_cannot_overwrite_the_lifecycle(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    stale = Order.objects.get(pk=order.pk)
    order.status, order.code = Status.COMPLETED, "482913"
    status_cache.remember(order)
    status_cache.fill(stale)
    assert status_cache.poll(order.public_id)[0] == PollState.of(order)


def test_cancel_opening_changes_the_version_without_a_write():
    paid_at = timezone.now() - timedelta(seconds=60)
    order = Order(kind=Kind.RECEIVE, status=Status.WAITING_CODE, quoted_sats=1, paid_at=paid_at, number="1")
    state = PollState.of(order)
    opens = order.cancel_allowed_at
    assert opens.timestamp() in [moment for moment, _ in state.versions]
    assert state.version_at(opens.timestamp() - 1) == order.status_version(can_cancel=False)
    assert state.version_at(opens.timestamp()) == order.status_version(can_cancel=True)
    assert state.version_at(0) != state.version_at(opens.timestamp())
    order.status, order.code = Status.COMPLETED, "1234"
    assert len(PollState.of(order).versions) == 1  # a code: no cancel ever


def test_a_passing_local_deadline_changes_the_version_without_a_write(settings):
    # The page must say "waiting for sms4sats to confirm" once the invoice's time is up, from the cache too.
    expires = timezone.now() + timedelta(seconds=30)
    order = Order(kind=Kind.RECEIVE, status=Status.UNPAID, quoted_sats=1, invoice_expires_at=expires, bolt11="x")
    state = PollState.decode(PollState.of(order).encode().encode())
    assert state.version_at(expires.timestamp() - 1) == order.status_version(can_cancel=False)
    assert state.version_at(expires.timestamp()) == order.status_version(can_cancel=False, awaiting=True)
    assert state.version_at(expires.timestamp() - 1) != state.version_at(expires.timestamp())


def test_cached_state_follows_the_clock_for_the_cancel_button(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789", paid_at=timezone.now() - timedelta(seconds=119))
    version = shown_version(client, order)  # no cancel button yet
    assert poll(client, order, version).status_code == 204
    later = time.time() + 2  # the two minutes are up
    with (
        mock.patch("shop.views.time.time", return_value=later),
        mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=2)),
    ):
        response = poll(client, order, version)
    assert response.status_code == 200
    assert 'class="btn btn-danger">Cancel and return my payment' in response.content.decode()  # enabled


def test_fund_orders_are_never_cached_nor_shown(client):
    order = make_order(Status.UNPAID, kind=Kind.FUND)
    status_cache.remember(order)
    assert status_cache.poll(order.public_id)[0] is None
    assert poll(client, order, "0123456789abcdef").status_code == 404


def test_unknown_order_with_a_version_is_404(client):
    import uuid

    response = client.get(f"/o/{uuid.uuid4()}/status", headers={"X-Order-Version": "0123456789abcdef"})
    assert response.status_code == 404


def test_redis_trouble_falls_back_to_the_row(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    version = shown_version(client, order)
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with mock.patch.object(status_cache, "shared_redis", return_value=down):
        assert poll(client, order, version).status_code == 204
        Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED, code="99", next_poll_at=None)
        assert poll(client, order, version).status_code == 286


def test_the_entry_expires(client):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    version = shown_version(client, order)
    assert poll(client, order, version).status_code == 204
    assert 0 < status_cache.shared_redis().ttl(status_cache.key(order.public_id)) <= status_cache.TTL


@pytest.mark.parametrize(
    "status, fields",
    [
        (Status.COMPLETED, {"code": "482913", "number": "4915123456789"}),
        (Status.REFUNDED, {"refund_reason": "no_number"}),
        (Status.EXPIRED, {}),
        (Status.FAILED, {"failure_reason": "sms4sats could not take this order."}),
    ],
)
def test_a_final_orders_poll_ends_from_the_cache(client, django_assert_num_queries, status, fields):
    # A page left open on a final order polls once more after each reload; its 286 must not read the row.
    order = make_order(status, completed_at=timezone.now(), **fields)
    version = shown_version(client, order)
    poll(client, order, version)  # a miss at most: the entry is filled
    with django_assert_num_queries(0):
        response = poll(client, order, version)
    assert response.status_code == 286 and response.content == b""


@pytest.mark.parametrize(
    ("asked_ago", "wait"),
    [
        (None, 2.0),  # not known: the plain period
        (0.0, 2.25),  # the next look's answer lands 2 s after this one's; the page asks a moment after
        (1.0, 1.25),
        (1.8, 2.45),  # 0.45 s would be a poll right after the last: the look after next
        (5.0, 1.25),  # the engine is behind: still its rhythm, once per period
    ],
)
def test_a_page_polls_just_after_the_engines_next_look(settings, asked_ago, wait):
    settings.POLL_FAST_SECONDS = settings.STATUS_POLL_SECONDS = 2
    now = 1_000_000.0
    asked_at = None if asked_ago is None else now - asked_ago
    assert status_cache.next_poll_in(asked_at, now) == pytest.approx(wait)


def test_no_timing_when_the_page_and_the_engine_keep_different_periods(settings):
    settings.POLL_FAST_SECONDS, settings.STATUS_POLL_SECONDS = 0.3, 0.5
    assert status_cache.next_poll_in(time.time() - 1, time.time()) == 0.5


def test_the_poll_answers_say_when_to_ask_again(client, settings):
    settings.POLL_FAST_SECONDS = settings.STATUS_POLL_SECONDS = 2
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    version = shown_version(client, order)
    assert poll(client, order, version)["X-Poll-In"] == "2000"  # the engine has not looked yet
    status_cache.note_asked([order.public_id], time.time() - 1)
    assert 1150 <= int(poll(client, order, version)["X-Poll-In"]) <= 1250  # a 204
    order.status, order.code = Status.COMPLETED, "482913"
    order.next_poll_at = timezone.now()  # still watched for a while: a live 200
    order.save()
    status_cache.remember(order)
    changed = poll(client, order, version)
    assert changed.status_code == 200 and 1000 <= int(changed["X-Poll-In"]) <= 1250
    order.next_poll_at = None
    order.save()
    status_cache.remember(order)
    final = poll(client, order, version)
    assert final.status_code == 286 and "X-Poll-In" not in final  # polling stops
