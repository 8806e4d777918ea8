"""The shared view of whether sms4sats answers: counted across calls, a probe while down, all due on recovery."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from orders import lifecycle, polling
from orders.models import Order, Status
from orders.sms4sats import Sms4satsClient, UpstreamUnavailable, upstream_health
from tests.factories import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_state():
    upstream_health._last_clean["at"] = 0.0
    yield
    upstream_health._last_clean["at"] = 0.0


def fail(times=1):
    for _ in range(times):
        upstream_health.record(False, "orderstatus: unreachable")


def test_down_only_after_consecutive_failures(settings):
    settings.UPSTREAM_DOWN_AFTER_FAILURES = 3
    fail(2)
    assert not upstream_health.is_down()
    upstream_health.record(True)  # an answer in between resets the count
    fail(2)
    assert not upstream_health.is_down()
    fail(1)
    state = upstream_health.state()
    assert not state["up"] and state["failures"] == 3 and "unreachable" in state["last_error"]


def test_the_first_answer_after_an_outage_is_a_recovery_taken_once(settings):
    fail(settings.UPSTREAM_DOWN_AFTER_FAILURES)
    assert not upstream_health.take_recovery()
    upstream_health.record(True)
    assert not upstream_health.is_down()
    assert upstream_health.take_recovery()
    assert not upstream_health.take_recovery()


def test_the_client_records_5xx_and_unreachable_as_failures_and_answers_as_up(settings):
    def handler(request):
        return httpx.Response(503 if "fail" in str(request.url) else 200, json={"status": "OK", "paid": False})

    client = Sms4satsClient(base_url="http://upstream.test", transport=httpx.MockTransport(handler))
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        with pytest.raises(UpstreamUnavailable):
            client.order_status("fail")
    assert upstream_health.is_down()
    client.order_status("ok")
    assert not upstream_health.is_down()


def due_orders(count):
    later = timezone.now() + timedelta(minutes=5)
    return [make_order(Status.UNPAID, upstream_id=f"u{i}", next_poll_at=later) for i in range(count)]


def test_recovery_makes_every_waiting_order_due_at_once():
    orders = due_orders(3)
    finished = make_order(Status.COMPLETED, next_poll_at=None)
    assert lifecycle.make_all_due() == 3
    now = timezone.now()
    for order in orders:
        order.refresh_from_db()
        assert order.next_poll_at <= now
    finished.refresh_from_db()
    assert finished.next_poll_at is None


def test_while_down_a_cycle_asks_about_one_order_only(settings, monkeypatch):
    fail(settings.UPSTREAM_DOWN_AFTER_FAILURES)
    Order.objects.filter(pk__in=[o.pk for o in due_orders(5)]).update(next_poll_at=timezone.now())
    asked = []

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        asked.extend(upstream_ids)
        answers = {uid: UpstreamUnavailable("orderstatus: unreachable") for uid in upstream_ids}
        for uid, answer in answers.items():
            on_answer(uid, answer)
        return answers

    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    report = polling.poll_cycle()
    assert report["probe"] and len(asked) == 1
    # The others were not pushed back: they are due the moment sms4sats answers.
    assert Order.objects.due(timezone.now()).count() == 4


def test_only_one_poll_cycle_runs_at_a_time():
    from sms4sats_site.shared_redis import shared_key, shared_redis

    lock = shared_redis().lock(shared_key("poll-cycle"), timeout=5)
    assert lock.acquire(blocking=False)
    try:
        assert polling.poll_cycle() is None  # the tick is dropped
    finally:
        lock.release()
    assert polling.poll_cycle() is not None


def test_parallel_cycles_take_one_slot_each_on_postgresql_and_one_on_sqlite(settings):
    from django.db import connection

    from sms4sats_site.shared_redis import shared_key, shared_redis

    settings.POLL_PARALLEL_CYCLES = 2
    first = shared_redis().lock(shared_key("poll-cycle"), timeout=5)
    assert first.acquire(blocking=False)  # a cycle is running
    try:
        if connection.vendor == "sqlite":  # no SKIP LOCKED: a second cycle could claim the same orders
            assert polling.parallel_cycles() == 1 and polling.poll_cycle() is None
            return
        assert polling.parallel_cycles() == 2
        second = shared_redis().lock(shared_key("poll-cycle:1"), timeout=5)
        assert second.acquire(blocking=False)  # and a second one: every slot is taken
        try:
            assert polling.poll_cycle() is None
        finally:
            second.release()
        assert polling.poll_cycle() is not None  # the second slot is free: this cycle runs beside the first
        for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
            upstream_health.record(False, "orderstatus: unreachable")
        assert polling.poll_cycle() is None  # sms4sats not answering: one cycle, one probe at a time
    finally:
        first.release()


def test_a_cycle_killed_midway_blocks_polling_for_one_cycle_length_at_most(settings, monkeypatch):
    from sms4sats_site.shared_redis import shared_key, shared_redis

    due_orders(1)
    Order.objects.update(next_poll_at=timezone.now())
    seen = []

    def poll_chunk(orders, counted_from, report, runner, client, appliers):
        # What a worker killed right here would leave behind: a lock that runs out within one cycle's length.
        seen.append(shared_redis().pttl(shared_key("poll-cycle")))

    monkeypatch.setattr(polling, "poll_chunk", poll_chunk)
    polling.poll_cycle()
    assert seen and 0 < seen[0] <= settings.POLL_CYCLE_MAX_SECONDS * 1000


class SentTasks:
    def __init__(self):
        self.sent = []

    def send_task(self, name, args=()):
        self.sent.append((name, *args))


def test_the_sweep_requeues_lost_creations_only_when_the_creation_queue_is_empty(settings, monkeypatch):
    from django.conf import settings as live_settings

    from sms4sats_site.shared_redis import shared_redis

    settings.CREATE_REQUEUE_SECONDS = 0
    sent = SentTasks()
    monkeypatch.setattr(polling, "current_app", sent)
    order = make_order(status=Status.NEW)
    queue = live_settings.CELERY_CREATE_QUEUE
    shared_redis().rpush(queue, "a task waiting its turn")
    try:
        assert polling.sweep()["requeued"] == 0  # waiting, not lost: no duplicate to lengthen the queue
    finally:
        shared_redis().delete(queue)
    assert polling.sweep()["requeued"] == 1
    assert sent.sent == [(lifecycle.CREATE_TASK, order.pk)]
