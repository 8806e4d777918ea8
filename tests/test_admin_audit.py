"""Nothing irreversible in one click, and who did it: the cancel confirmation pages (one order, several), the
actions offered only where the engine's rules allow them, and the audit trail (admin LogEntry on the order's
History with the user; the timeline names the user). The lifecycle is real; nothing reaches sms4sats (the
cancel task is queued on commit, which these tests do not run)."""

from datetime import timedelta
from html import unescape
from unittest import mock

from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from orders.models import Kind, Order, Status
from tests.factories import make_order

CHANGELIST = reverse("admin:orders_order_changelist")


def cancel_url(order):
    return reverse("admin:orders_order_cancel", args=[order.pk])


def history_of(order):
    return [(e.user.username, e.change_message) for e in LogEntry.objects.filter(object_id=str(order.pk))]


def cancelable(**fields):
    return make_order(Status.WAITING_CODE, paid_after=1, upstream_id=f"up-{timezone.now().timestamp()}", **fields)


def test_the_cancel_button_asks_first_and_says_whose_money(admin_client, db):
    order = cancelable()
    page = unescape(admin_client.get(cancel_url(order)).content.decode())
    assert "Cancel at sms4sats?" in page
    assert "the buyer's held payment of 1,500 sats goes back to the buyer's wallet" in page
    order.refresh_from_db()
    assert order.cancel_requested_at is None and history_of(order) == []  # nothing done by asking

    balance_order = cancelable(paid_from_balance=True, bolt11="")
    page = unescape(admin_client.get(cancel_url(balance_order)).content.decode())
    assert "the 1,500 sats taken from your prepaid balance go back to the balance (no buyer paid for it)" in page


def test_yes_cancels_and_the_history_and_timeline_name_the_user(admin_client, db):
    order = cancelable()
    response = admin_client.post(cancel_url(order), {"post": "yes"}, follow=True)
    assert "cancel requested" in response.content.decode()
    order.refresh_from_db()
    assert order.cancel_requested_at is not None
    assert order.events.filter(note="Cancel requested by admin").exists()
    assert history_of(order) == [
        ("admin", "Asked sms4sats to cancel; once it confirms, the buyer's held payment of 1,500 sats goes back to "
         "the buyer's wallet; nothing is charged")
    ]  # fmt: skip
    history = unescape(admin_client.get(reverse("admin:orders_order_history", args=[order.pk])).content.decode())
    assert "admin" in history and "Asked sms4sats to cancel" in history


def test_bulk_cancel_asks_first_and_lists_what_cannot_be_canceled(admin_client, db):
    order, done = cancelable(), make_order(Status.COMPLETED, paid_after=1, code="12345")
    selected = {"action": "cancel_upstream", "index": 0, "_selected_action": [order.pk, done.pk]}
    page = unescape(admin_client.post(CHANGELIST, selected).content.decode())
    assert "Cancel 1 order at sms4sats?" in page
    assert "<strong>not canceled</strong>: This order can no longer be canceled." in page
    assert Order.objects.filter(cancel_requested_at__isnull=False).count() == 0
    # The page's "Yes": the same selection, post=yes, without "index" (as delete_selected's page posts).
    admin_client.post(CHANGELIST, {"action": "cancel_upstream", "_selected_action": [order.pk, done.pk], "post": "yes"})
    assert list(Order.objects.filter(cancel_requested_at__isnull=False)) == [order]
    assert history_of(order)[0][0] == "admin" and history_of(done) == []


def test_actions_are_offered_only_where_they_apply(admin_client, db):
    def tools(order):
        page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
        return page.split('class="object-tools"', 1)[1].split("</ul>", 1)[0]

    done = make_order(Status.COMPLETED, paid_after=1, code="12345")
    assert "Cancel upstream" not in tools(done) and "Replace from balance" not in tools(done)
    send = make_order(Status.HELD, Kind.SEND, paid_after=1)
    assert "Cancel upstream" not in tools(send) and "Replace from balance" not in tools(send)
    assert "Cancel upstream" not in tools(make_order(Status.UNPAID))
    early = make_order(Status.WAITING_CODE, paid_at=timezone.now() - timedelta(seconds=10))
    assert "sms4sats allows a cancel from" in tools(early)  # a true moment: it opens then
    ready = cancelable()
    assert "asks you to confirm" in tools(ready) and "Replace from balance" in tools(ready)
    refunded = make_order(Status.REFUNDED, paid_after=1, refund_reason="timeout")
    assert "Replace from balance" in tools(refunded) and "Cancel upstream" not in tools(refunded)


def test_a_replacement_is_refused_where_it_is_not_offered(admin_client, db):
    done = make_order(Status.COMPLETED, paid_after=1, code="12345")
    response = admin_client.get(reverse("admin:balance_order"), {"replaces": done.pk}, follow=True)
    assert response.redirect_chain == [(reverse("admin:orders_order_change", args=[done.pk]), 302)]
    assert "This order got its code: there is nothing to replace. Nothing was ordered." in response.content.decode()


def test_a_refresh_is_recorded(admin_client, db):
    order = make_order(Status.UNPAID, upstream_id="up-audit")
    with mock.patch("orders.lifecycle.refresh"):
        admin_client.post(reverse("admin:orders_order_refresh", args=[order.pk]))
    assert history_of(order) == [("admin", "Refreshed from sms4sats (unpaid → unpaid)")]
