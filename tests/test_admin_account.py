"""The prepaid account page: without a key (an explanation, no upstream call), the fund form's
validation, calm errors, and the whole flow on the sandbox (fund, pay, credited, history)."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.urls import reverse

from orders.models import Kind, Order, Status
from orders.sms4sats import History, HistoryEntry, UpstreamRejected, UpstreamUnavailable
from sandbox import control
from sandbox.wallet import pay_invoice
from tests.factories import make_order
from tests.waiting import status_is, wait_for

ACCOUNT = "admin:prepaid_account"


def no_upstream(*args, **kwargs):
    raise AssertionError("the account page must not call sms4sats here")


@pytest.fixture
def fake_client(settings):
    settings.SMS4SATS_API_KEY = "sk-live-do-not-show-4242"
    client = mock.Mock()
    client.balance.return_value = 12345
    client.history.return_value = History(
        total_amount=30000,
        entries=[
            HistoryEntry(
                amount=10000,
                created_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
                description="fund account",
                price=10000,
                preimage_hash="aa" * 32,
            ),
            HistoryEntry(
                amount=20000,
                created_at=datetime(2025, 2, 3, 4, 5, tzinfo=UTC),
                description="fund account",
                price=20000,
                preimage_hash="bb" * 32,
            ),
        ],
    )
    with mock.patch("orders.sms4sats.get_client", return_value=client):
        yield client


def test_without_a_key_explains_how_to_set_one(admin_client, db, settings):
    settings.SMS4SATS_API_KEY = None
    with (
        mock.patch("orders.sms4sats.get_client", side_effect=no_upstream),
        mock.patch("orders.sms4sats.Sms4satsClient", side_effect=no_upstream),
    ):
        response = admin_client.get(reverse(ACCOUNT))
        assert response.status_code == 200
        body = response.content.decode()
        assert "No API key is set" in body
        assert "settings page" in body and "SMS4SATS_API_KEY" in body
        assert 'name="amount"' not in body
        # Posting the form anyway creates nothing and asks nothing.
        response = admin_client.post(reverse(ACCOUNT), {"amount": 5000})
        assert response.status_code == 200
    assert not Order.objects.filter(kind=Kind.FUND).exists()


def test_balance_and_history(admin_client, fake_client):
    response = admin_client.get(reverse(ACCOUNT))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<div class="value" id="balance-sats">12,345 sats</div>' in body
    assert "30,000 sats" in body
    assert body.index("2025-02-03 04:05") < body.index("2025-01-02 03:04")  # newest first
    assert "sk-live-do-not-show-4242" not in body
    assert "bb" * 32 not in body  # no preimage hashes either


def test_upstream_errors_are_calm(admin_client, fake_client):
    fake_client.balance.side_effect = UpstreamUnavailable("sms4sats timed out")
    fake_client.history.side_effect = UpstreamRejected("invalid key sk-live-do-not-show-4242")
    response = admin_client.get(reverse(ACCOUNT))
    assert response.status_code == 200
    body = response.content.decode()
    assert "sms4sats did not answer: sms4sats timed out" in body
    assert "The history is unavailable right now" in body
    assert "invalid key …" in body
    assert "sk-live-do-not-show-4242" not in body


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.5", "", "999", "10000001", "1e9"])
def test_fund_form_rejects_bad_amounts(admin_client, fake_client, amount):
    response = admin_client.post(reverse(ACCOUNT), {"amount": amount})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert 'class="errorlist' in response.content.decode()
    assert not Order.objects.filter(kind=Kind.FUND).exists()


def test_fund_form_places_a_fund_order(admin_client, fake_client):
    with mock.patch("orders.lifecycle.transaction.on_commit"):  # no worker here
        response = admin_client.post(reverse(ACCOUNT), {"amount": "25000"})
    order = Order.objects.get(kind=Kind.FUND)
    assert order.quoted_sats == 25000
    assert order.session_key == ""
    assert order.status == Status.NEW
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:fund_order", args=[order.public_id])
    page = admin_client.get(response["Location"])
    body = page.content.decode()
    assert "Creating the invoice" in body
    assert '<meta http-equiv="refresh" content="2">' in body


def test_fund_needs_the_change_permission(client, db, fake_client):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="pw-123-long", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.login(username="viewer", password="pw-123-long")
    body = client.get(reverse(ACCOUNT)).content.decode()
    assert "12,345 sats" in body
    assert 'name="amount"' not in body
    assert client.post(reverse(ACCOUNT), {"amount": "5000"}).status_code == 403
    assert not Order.objects.filter(kind=Kind.FUND).exists()


def test_fund_page_shows_the_invoice_then_credited(admin_client, db, settings):
    settings.SANDBOX = True
    order = make_order(
        kind=Kind.FUND,
        status=Status.UNPAID,
        quoted_sats=5000,
        invoice_sats=5000,
        bolt11="lnbcrt50u1pjexampleexampleexample",
        country_code=None,
    )
    body = admin_client.get(reverse("admin:fund_order", args=[order.public_id])).content.decode()
    assert '<svg class="qr-svg"' in body
    assert "lnbcrt50u1pjexampleexampleexample" in body
    assert "/sandbox/wallet/" in body
    Order.objects.filter(pk=order.pk).update(status=Status.COMPLETED)
    body = admin_client.get(reverse("admin:fund_order", args=[order.public_id])).content.decode()
    assert "Credited to the prepaid balance." in body
    assert 'http-equiv="refresh"' not in body
    assert "qr-svg" not in body
    # Only fund orders have this page.
    other = make_order()
    assert admin_client.get(reverse("admin:fund_order", args=[other.public_id])).status_code == 404


# --- The whole flow on the sandbox, with the real engine ----------------------------------------------------


def test_fund_on_the_sandbox(admin_client, settings, sandbox_url, celery_worker):
    settings.POLL_FAST_SECONDS = 0.2
    control.set_control({})
    assert settings.SMS4SATS_API_KEY == settings.SANDBOX_API_KEY  # the sandbox's key by default

    response = admin_client.get(reverse(ACCOUNT))
    assert response.context["balance"] == 0
    assert response.context["history"] == []
    assert settings.SANDBOX_API_KEY not in response.content.decode()

    response = admin_client.post(reverse(ACCOUNT), {"amount": "21000"})
    assert response.status_code == 302
    order = Order.objects.get(kind=Kind.FUND)
    order = wait_for(order, status_is(Status.UNPAID, Status.FAILED))  # the worker created the fund invoice
    assert order.status == Status.UNPAID, order.failure_reason
    page = admin_client.get(response["Location"]).content.decode()
    assert '<svg class="qr-svg"' in page
    assert order.bolt11 in page

    ok, reason = pay_invoice(order.bolt11)
    assert ok, reason
    order = wait_for(order, status_is(Status.COMPLETED, Status.REFUNDED, Status.EXPIRED))
    assert order.status == Status.COMPLETED
    page = admin_client.get(response["Location"]).content.decode()
    assert "Credited to the prepaid balance." in page
    assert "21000 sats credited" in page

    response = admin_client.get(reverse(ACCOUNT))
    assert response.context["balance"] == 21000
    assert [entry.amount for entry in response.context["history"]] == [21000]
    assert response.context["history_total"] == 21000
    body = response.content.decode()
    assert '<div class="value" id="balance-sats">21,000 sats</div>' in body
    assert settings.SANDBOX_API_KEY not in body
