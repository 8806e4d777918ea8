"""The poll cycle's pipeline: each answer applied as it arrives, the next chunk asked about while the last one
is applied, and nothing left hanging when asking fails as a whole."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from orders import polling
from orders.models import Order, Status
from orders.sms4sats import upstream_health
from tests.factories import make_order, upstream_status

# The appliers are threads on PostgreSQL only (SQLite takes one writer at a time: answers are applied in the
# cycle's own thread there, after each chunk); threads see only committed orders.
threads_only = pytest.mark.skipif(connection.vendor == "sqlite", reason="answers are applied in threads on PostgreSQL")
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _upstream_up():
    upstream_health.record(True)
    upstream_health.take_recovery()


def due_orders(count, status=Status.HELD):
    now = timezone.now()
    return [
        make_order(status, upstream_id=f"{i:064d}", next_poll_at=now - timedelta(seconds=count - i))
        for i in range(count)
    ]


@threads_only
def test_an_answer_is_applied_while_the_rest_of_its_chunk_is_still_being_asked_about(monkeypatch):
    first, second = due_orders(2)
    seen_while_asking = []

    def status_of(pk):
        try:
            return Order.objects.get(pk=pk).status
        finally:
            connection.close()  # this helper thread's own connection, or the test database stays in use

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        on_answer(first.upstream_id, upstream_status(paid=True, number="15550001", code="123456"))
        # The second answer is still on its way; the first one's code should reach the database meanwhile.
        for _ in range(100):
            status = await sync_to_async(status_of, thread_sensitive=False)(first.pk)
            if status == Status.COMPLETED:
                break
            await asyncio.sleep(0.02)
        seen_while_asking.append(status)
        on_answer(second.upstream_id, upstream_status(paid=True, number="15550002"))
        return {}

    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    report = polling.poll_cycle()
    assert seen_while_asking == [Status.COMPLETED]
    assert report["changed"] == 2 and report["errors"] == 0
    assert Order.objects.get(pk=second.pk).status == Status.WAITING_CODE


@threads_only
def test_the_next_chunk_is_asked_about_while_the_last_one_is_being_applied(monkeypatch):
    monkeypatch.setattr(polling, "CHUNK_SIZE", 1)
    first, second = due_orders(2, status=Status.UNPAID)
    happened = []
    apply_one = polling.apply_one

    def slow_apply_one(order, result, unchanged=None):
        time.sleep(0.5)  # a slow database
        happened.append(f"applied {order.upstream_id}")
        return apply_one(order, result, unchanged)

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        happened.append(f"asked {upstream_ids[0]}")
        on_answer(upstream_ids[0], upstream_status(paid=True))
        return {}

    monkeypatch.setattr(polling, "apply_one", slow_apply_one)
    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    report = polling.poll_cycle()
    assert happened.index(f"asked {second.upstream_id}") < happened.index(f"applied {first.upstream_id}")
    assert report["chunks"] == 2 and report["changed"] == 2
    assert set(Order.objects.values_list("status", flat=True)) == {Status.HELD}


def test_when_asking_fails_as_a_whole_the_unanswered_orders_stay_claimed(monkeypatch):
    first, second = due_orders(2)

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        on_answer(first.upstream_id, upstream_status(paid=True, number="15550001"))
        raise RuntimeError("the event loop broke")

    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    with pytest.raises(RuntimeError):
        polling.poll_cycle()  # and it returns: no chunk waits for an answer that will never come
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.WAITING_CODE
    # Not asked about: due again once its claim runs out, like an order of a worker that died.
    assert second.status == Status.HELD
    assert second.next_poll_at > timezone.now() + timedelta(seconds=polling.CLAIM_SECONDS / 2)


def test_an_answer_is_applied_in_one_transaction_without_savepoints():
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    (order,) = due_orders(1)
    chunk = polling.Chunk([order], timezone.now(), {"changed": 0, "errors": 0})
    with CaptureQueriesContext(db) as queries:
        chunk.apply(order, upstream_status(paid=True, number="15550001", code="123456"))  # two moves
    assert Order.objects.get(pk=order.pk).status == Status.COMPLETED
    assert not [q["sql"] for q in queries if "SAVEPOINT" in q["sql"].upper()]


def test_whether_pages_watch_the_orders_is_looked_up_once_per_chunk_not_per_move(monkeypatch):
    from orders import status_cache

    due_orders(3)
    looked_up = []
    watched = status_cache.watched

    def counted(public_ids):
        looked_up.append(list(public_ids))
        return watched(looked_up[-1])

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        for uid in upstream_ids:
            on_answer(uid, upstream_status(paid=True, number="15550001", code="123456"))
        return {}

    monkeypatch.setattr(status_cache, "watched", counted)
    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    report = polling.poll_cycle()
    assert report["changed"] == 3
    # One look for the chunk, one when scheduling its unchanged orders (none here): not two per order.
    assert len(looked_up) <= 2 and len(looked_up[0]) == 3


def test_a_cycle_notes_when_it_asked_about_watched_orders_for_their_pages(monkeypatch):
    from orders import status_cache

    watched, unwatched = due_orders(2)
    status_cache.mark_watched(watched.public_id)

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        for uid in upstream_ids:
            on_answer(uid, upstream_status(paid=True))
        return {}

    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    before = time.time()
    polling.poll_cycle()
    asked_at = status_cache.poll(watched.public_id).asked_at
    assert asked_at is not None and before <= asked_at <= time.time()  # after its answer was applied
    assert status_cache.poll(unwatched.public_id).asked_at is None  # no page: nothing to time


def test_a_cycles_later_chunks_are_due_again_with_its_first(monkeypatch, settings):
    """Every order a cycle reaches within half a period is due one period after the cycle's first claim: the
    next tick's cycle then reaches them all, however fast it asks about its first chunk."""
    from orders import status_cache

    monkeypatch.setattr(polling, "CHUNK_SIZE", 2)
    orders = due_orders(4, status=Status.WAITING_CODE)
    for order in orders:
        status_cache.mark_watched(order.public_id)
    chunks = []

    async def fetch_statuses(upstream_ids, concurrency, client=None, on_answer=None):
        chunks.append(time.time())
        await asyncio.sleep(0.3)  # a slow sms4sats: the second chunk is claimed 0.3 s after the first
        for uid in upstream_ids:
            on_answer(uid, upstream_status(paid=True, number="15550001"))
        return {}

    monkeypatch.setattr(polling, "fetch_statuses", fetch_statuses)
    settings.POLL_FAST_SECONDS = 10  # half a period (5 s) holds the second claim even on a loaded machine
    before = timezone.now()
    report = polling.poll_cycle()
    assert report["chunks"] == 2 and chunks[1] - chunks[0] >= 0.3
    due = set(Order.objects.values_list("next_poll_at", flat=True))
    assert len(due) == 1  # one moment for both chunks
    first_claim = due.pop() - timedelta(seconds=settings.POLL_FAST_SECONDS)
    assert before <= first_claim <= datetime.fromtimestamp(chunks[0], tz=UTC)  # claimed before it was asked


def test_a_chunk_claimed_half_a_period_into_its_cycle_counts_from_its_own_claim():
    first = timezone.now()
    assert polling.next_looks_from(first, first + timedelta(seconds=0.9)) == first
    late = first + timedelta(seconds=1.0)
    assert polling.next_looks_from(first, late) == late  # a long cycle: its orders are not due back at once
