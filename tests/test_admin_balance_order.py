"""Orders paid from the prepaid balance, placed from the admin: the form's refusals (no key, bad country or
service, a balance that does not cover the price, too many, a replacement already under way), staff and CSRF,
and the whole way on the sandbox (a real Celery worker creates it, sms4sats' code arrives), with the
replacement linked to its original, "paid from balance" on the timeline and the buyer's page without invoice.
One intent, one spend: a double click, a resubmit, two tabs make one order at sms4sats (threads posting at once,
meaningful on PostgreSQL: DATABASE_URL=postgres://…)."""

import copy
import re
import threading
import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.db import IntegrityError, connection
from django.test import Client
from django.urls import reverse

from orders import lifecycle
from orders.models import Kind, Order, Status
from orders.prepaid import BALANCE_ORDERS_PER_HOUR
from orders.sms4sats import Sms4satsClient
from sandbox import control
from sandbox.catalog import SEND_PRICE, receive_price
from sandbox.models import SandboxOrder
from sandbox.wallet import pay_invoice
from tests.factories import make_order
from tests.fake_upstream import unreachable_url
from tests.waiting import status_is, wait_for

PLACE = "admin:balance_order"
USA, TELEGRAM = 187, "tg"


def fund_sandbox(amount):
    with Sms4satsClient() as client:
        ok, reason = pay_invoice(client.fund(amount).payreq)
    assert ok, reason


def placing(**data):
    """A post of the form as rendered (its fields and the one-time key each render carries), confirmed."""
    return {**data, "idempotency_key": str(uuid.uuid4()), "confirm": "yes"}  # past the confirmation page


def rendered_form(response, form_id):
    """The hidden fields of a form on the page, as the browser posts them (the CSRF token, the one-time key)."""
    body = body_of(response)
    start = body.index(f'id="{form_id}"') if form_id else body.index('<form method="post"')
    form = body[start : body.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def body_of(response):
    return response.content.decode()


def status_part(response):
    """The buyer page's status part (the footer speaks of invoices in general)."""
    body = body_of(response)
    start = body.index('id="order-status"')
    return body[start : body.index("</section>", start)]


@pytest.fixture
def sandbox(settings, sandbox_url, patient_catalog):
    # patient_catalog: the form reads its price from the sandbox on the live server, which a loaded machine can
    # keep past a web request's 0.5 s budget: the form would then say "slow" instead of the refusal under test.
    settings.POLL_FAST_SECONDS = 0.2
    settings.POLL_UNWATCHED_SECONDS = 0.2  # nobody has the buyer's page open in these tests
    settings.SANDBOX_NUMBER_DELAY = 0.5
    settings.SANDBOX_CODE_DELAY = 1
    control.set_control({})
    yield sandbox_url
    control.set_control({})


# --- The form's refusals --------------------------------------------------------------------------------------


def test_without_a_key_nothing_is_ordered(admin_client, db, settings):
    settings.SMS4SATS_API_KEY = None
    response = admin_client.get(reverse(PLACE))
    assert response.status_code == 200
    assert "No API key is set" in body_of(response)
    assert 'name="service"' not in body_of(response)
    response = admin_client.post(reverse(PLACE), placing(country=USA, service=TELEGRAM))
    assert response.status_code == 409
    assert "nothing was ordered" in body_of(response)
    assert not Order.objects.exists()


def test_the_form_lists_the_country_services_with_prices(admin_client, sandbox):
    response = admin_client.get(reverse(PLACE), {"country": USA})
    assert response.status_code == 200
    body = body_of(response)
    assert f'<option value="{USA}" selected>' in body
    assert '<option value="tg">Telegram' in body
    assert '<div class="value" id="balance-sats">0 sats</div>' in body
    assert "no invoice, the buyer pays" in body
    assert 'id="order-form"' not in body  # no service chosen yet: no price, nothing to place

    body = body_of(admin_client.get(reverse(PLACE), {"country": USA, "service": TELEGRAM}))
    assert f'<strong id="price">{receive_price(USA, TELEGRAM):,} sats</strong>' in body
    assert 'id="order-form"' in body
    assert '<input type="hidden" name="service" value="tg">' in body


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"country": "12345", "service": TELEGRAM}, "This country is not in the list."),
        ({"country": "not a number", "service": TELEGRAM}, "Choose a country from the list."),
        ({"country": USA, "service": "no-such-service"}, "This service is not offered for this country."),
        ({"country": USA}, "Choose a service."),
    ],
)
def test_bad_country_or_service(admin_client, sandbox, data, error):
    fund_sandbox(20_000)
    response = admin_client.post(reverse(PLACE), placing(**data))
    assert response.status_code == 400
    assert error in body_of(response)
    assert not Order.objects.exists()


def test_a_balance_that_does_not_cover_the_price(admin_client, sandbox):
    price = receive_price(USA, TELEGRAM)
    fund_sandbox(price - 1)
    response = admin_client.post(reverse(PLACE), placing(country=USA, service=TELEGRAM))
    assert response.status_code == 400
    assert (
        f"The prepaid balance ({price - 1:,} sats) does not cover the price ({price:,} sats). "
        "Fund the account first. Nothing was ordered."
    ) in body_of(response)
    assert not Order.objects.exists()


def test_at_most_so_many_an_hour(admin_client, sandbox):
    fund_sandbox(20_000)
    for _ in range(BALANCE_ORDERS_PER_HOUR):
        make_order(Status.COMPLETED, paid_from_balance=True)
    response = admin_client.post(reverse(PLACE), placing(country=USA, service=TELEGRAM))
    assert response.status_code == 400
    assert f"At most {BALANCE_ORDERS_PER_HOUR} orders an hour" in body_of(response)
    assert Order.objects.count() == BALANCE_ORDERS_PER_HOUR


def test_one_replacement_at_a_time(admin_client, sandbox):
    fund_sandbox(20_000)
    original = make_order(Status.REFUNDED, refund_reason="timeout")
    under_way = make_order(Status.WAITING_CODE, paid_from_balance=True, replaces=original)
    response = admin_client.post(reverse(PLACE), placing(replaces=original.pk))
    assert response.status_code == 400
    assert f"A replacement of this order is already under way ({under_way.public_id})" in body_of(response)
    assert original.replacements.count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"phone": "12345", "message": "hi"}, "Start with + and the country code"),
        ({"phone": "+447911123456", "message": "x" * 141}, "The message is too long: at most 140 characters"),
        ({"phone": "+447911123456", "message": ""}, "Write the message to send."),
    ],
)
def test_bad_sms(admin_client, sandbox, data, error):
    fund_sandbox(20_000)
    response = admin_client.post(reverse(PLACE), placing(kind="send", **data))
    assert response.status_code == 400
    assert error in body_of(response)
    assert not Order.objects.exists()


def test_only_a_receive_order_is_replaced(admin_client, db):
    rental = make_order(Status.ACTIVE, Kind.RENTAL)
    assert admin_client.get(reverse(PLACE), {"replaces": rental.pk}).status_code == 404
    assert admin_client.post(reverse(PLACE), placing(replaces="1; drop")).status_code == 403


def test_staff_with_the_change_permission_only(client, db):
    clerk = User.objects.create_user("clerk", password="pw-123-long", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.login(username="clerk", password="pw-123-long")
    assert client.get(reverse(PLACE)).status_code == 403
    assert client.post(reverse(PLACE), placing(country=USA, service=TELEGRAM)).status_code == 403
    client.logout()
    response = client.post(reverse(PLACE), placing(country=USA, service=TELEGRAM))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Order.objects.exists()


def test_csrf_is_checked(db, admin_user, sandbox):
    fund_sandbox(20_000)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post(reverse(PLACE), placing(country=USA, service=TELEGRAM))
    assert response.status_code == 403
    assert not Order.objects.exists()
    # With the form's token, the same post places the order.
    page = browser.get(reverse(PLACE), {"country": USA, "service": TELEGRAM})
    response = browser.post(reverse(PLACE), rendered_form(page, "order-form"))
    assert response.status_code == 200 and "Pay from the prepaid balance?" in body_of(response)  # asks first
    assert not Order.objects.filter(paid_from_balance=True).exists()
    response = browser.post(reverse(PLACE), rendered_form(response, None))  # its "Yes"
    assert response.status_code == 302
    assert Order.objects.filter(paid_from_balance=True).count() == 1


def test_the_account_page_says_what_the_balance_is_for(admin_client, sandbox):
    body = body_of(admin_client.get(reverse("admin:prepaid_account")))
    assert "What the balance is for" in body
    assert f'href="{reverse(PLACE)}"' in body
    assert "Replace from balance" in body


# --- The whole way, on the sandbox with a real worker ------------------------------------------------------------


def test_a_replacement_goes_through_the_worker_to_its_code(admin_client, sandbox, celery_worker, settings):
    price = receive_price(USA, TELEGRAM)
    fund_sandbox(10_000)
    original = make_order(
        Status.REFUNDED, quoted_sats=price, refund_reason="timeout", country_code=USA, service_code=TELEGRAM
    )
    original_page = body_of(admin_client.get(reverse("admin:orders_order_change", args=[original.pk])))
    replace_url = f"{reverse(PLACE)}?replaces={original.pk}"
    assert replace_url in original_page
    assert "Replace from balance" in original_page
    form = body_of(admin_client.get(replace_url))
    assert "Same country and service as the buyer's order" in form
    assert f'<strong id="price">{price:,} sats</strong>' in form

    response = admin_client.post(reverse(PLACE), placing(replaces=original.pk), follow=True)

    order = Order.objects.get(replaces=original)
    assert response.redirect_chain == [(reverse("admin:orders_order_change", args=[order.pk]), 302)]
    buyer_url = settings.PUBLIC_BASE_URL + order.get_absolute_url()
    assert f"Its page, to pass on to the buyer: {buyer_url}" in body_of(response)
    assert order.paid_from_balance and order.session_key == ""
    assert (order.country_code, order.service_code, order.quoted_sats) == (USA, TELEGRAM, price)

    order = wait_for(order, status_is(Status.COMPLETED, Status.REFUNDED, Status.FAILED))
    assert order.status == Status.COMPLETED, [e.note for e in order.events.all()]
    sandbox_order = SandboxOrder.objects.get(order_id=order.upstream_id)
    assert order.code == str(sandbox_order.sms_code)
    assert sandbox_order.immediate
    assert not order.bolt11 and order.invoice_sats is None
    assert [e.to_status for e in order.events.all()] == ["new", "creating", "held", "waiting_code", "completed"]
    with Sms4satsClient() as client:
        assert client.balance() == 10_000 - price  # settled on the code: the balance paid

    page = body_of(admin_client.get(reverse("admin:orders_order_change", args=[order.pk])))
    assert "Paid from balance: sms4sats took the price from the prepaid balance" in page
    assert "the prepaid balance (no invoice; the buyer pays nothing)" in page
    assert reverse("admin:orders_order_change", args=[original.pk]) in page  # linked to the original
    assert buyer_url in page
    original_page = body_of(admin_client.get(reverse("admin:orders_order_change", args=[original.pk])))
    assert reverse("admin:orders_order_change", args=[order.pk]) in original_page

    buyer = Client().get(order.get_absolute_url())
    assert buyer.status_code == 200
    text = status_part(buyer)
    assert order.code in text
    assert "You had nothing to pay: the shop paid for this number from its prepaid balance." in text
    assert "qr-svg" not in text and 'class="qr"' not in text
    assert "lightning:" not in text and "Receipt" not in text
    assert "charged" not in text
    assert "Paid by the shop: nothing to pay · placed" in body_of(buyer)
    assert Client().get(reverse("orders:receipt", args=[order.public_id])).status_code == 404


def test_no_code_returns_the_sats_to_the_balance(admin_client, sandbox, celery_worker, settings):
    settings.CANCEL_AFTER_SECONDS = 0  # the operator may cancel at once, here and at the sandbox
    settings.SANDBOX_CANCEL_AFTER = 0
    price = receive_price(USA, "nocode")
    fund_sandbox(5_000)
    admin_client.post(reverse(PLACE), placing(country=USA, service="nocode"))
    order = Order.objects.get(paid_from_balance=True)
    order = wait_for(order, status_is(Status.WAITING_CODE, Status.FAILED))
    assert order.status == Status.WAITING_CODE
    with Sms4satsClient() as client:
        assert client.balance() == 5_000 - price

    waiting = status_part(Client().get(order.get_absolute_url()))
    assert "You have nothing to pay." in waiting
    assert "the sats go back to the shop's balance" in waiting
    assert "Cancel and return my payment" not in waiting
    assert "Your payment is locked" not in waiting
    assert Client().post(reverse("orders:cancel", args=[order.public_id])).status_code == 302
    order.refresh_from_db()
    assert order.cancel_requested_at is None  # the buyer cannot cancel the shop's order

    # The operator cancels from the order's page, as for a buyer's order.
    admin_client.post(reverse("admin:orders_order_cancel", args=[order.pk]), {"post": "yes"})
    order = wait_for(order, status_is(Status.REFUNDED))
    assert order.events.filter(note="Cancel requested by admin").exists()
    with Sms4satsClient() as client:
        assert client.balance() == 5_000
    refunded = status_part(Client().get(order.get_absolute_url()))
    assert "No code: the order was canceled" in refunded
    assert "back in your wallet" not in refunded


def test_insufficient_balance_at_sms4sats_fails_the_order_clearly(sandbox, celery_worker):
    """The balance was spent between the form's check and the worker's call: sms4sats refuses, the order fails."""
    from orders import lifecycle

    order = lifecycle.place_order(
        kind=Kind.RECEIVE,
        quoted_sats=receive_price(USA, TELEGRAM),
        session_key="",
        country_code=USA,
        country_name="USA",
        service_code=TELEGRAM,
        paid_from_balance=True,
    )
    order = wait_for(order, status_is(Status.FAILED, Status.HELD, Status.WAITING_CODE))
    assert order.status == Status.FAILED
    assert order.failure_reason.startswith("sms4sats could not take this order: Insufficient balance: 0 sats")
    text = status_part(Client().get(order.get_absolute_url()))
    assert "You have nothing to pay." in text
    assert "No money moved" not in text  # the balance order's own words, not the invoice order's


def test_an_sms_paid_from_the_balance_is_sent(admin_client, sandbox, celery_worker, settings):
    settings.SANDBOX_SMS_SENT_DELAY = 0.5
    settings.SANDBOX_SMS_DELIVERED_DELAY = 0.5
    fund_sandbox(5_000)
    form = body_of(admin_client.get(reverse(PLACE)))
    assert f'<strong id="send-price">{SEND_PRICE:,} sats</strong>' in form

    response = admin_client.post(reverse(PLACE), placing(kind="send", phone="+44 7911 123456", message="From the shop"))

    assert response.status_code == 302
    order = Order.objects.get(kind=Kind.SEND)
    assert order.paid_from_balance and (order.phone, order.quoted_sats) == ("+447911123456", SEND_PRICE)
    order = wait_for(order, status_is(Status.COMPLETED, Status.REFUNDED, Status.FAILED))
    assert order.status == Status.COMPLETED, [e.note for e in order.events.all()]
    assert SandboxOrder.objects.get(order_id=order.upstream_id).immediate
    with Sms4satsClient() as client:
        assert client.balance() == 5_000 - SEND_PRICE
    text = status_part(Client().get(order.get_absolute_url()))
    assert "Nothing to pay: the shop paid for this SMS from its prepaid balance." in text
    assert "charged" not in text


# --- One intent, one spend ---------------------------------------------------------------------------------------


def post_at_once(browser, posts):
    """Each form posted from its own thread by a copy of the browser (its session and CSRF cookies), all released
    together: a double click, two tabs. Returns each copy and its response (or the exception the view raised)."""
    clients = [Client(enforce_csrf_checks=True) for _ in posts]
    for clone in clients:
        clone.cookies = copy.deepcopy(browser.cookies)
    start = threading.Barrier(len(posts))
    answers = [None] * len(posts)

    def post(i):
        try:
            start.wait(timeout=10)
            answers[i] = clients[i].post(reverse(PLACE), posts[i])
        except Exception as exc:  # a 500: the test says which
            answers[i] = exc
        finally:
            connection.close()  # this thread's own connection (the test database is dropped at the end)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return list(zip(clients, answers, strict=True))


def create_at_sms4sats():
    """The worker's job for every order waiting to be created; the orders sms4sats made (the sandbox's count)."""
    for order in Order.objects.filter(status=Status.NEW):
        lifecycle.create_upstream(order.pk)
    return SandboxOrder.objects.filter(immediate=True).count()


def balance():
    with Sms4satsClient() as client:
        return client.balance()


def one_form(admin_client, which):
    """A form as the page renders it (the original to replace is made here): the fields a click posts."""
    if which == "replace":
        original = make_order(Status.REFUNDED, refund_reason="timeout", country_code=USA, service_code=TELEGRAM)
        return confirmed(rendered_form(admin_client.get(reverse(PLACE), {"replaces": original.pk}), "replace-form"))
    if which == "send":
        page = admin_client.get(reverse(PLACE))
        return confirmed({**rendered_form(page, "send-form"), "phone": "+447911123456", "message": "From the shop"})
    return confirmed(
        rendered_form(admin_client.get(reverse(PLACE), {"country": USA, "service": TELEGRAM}), "order-form")
    )


def confirmed(form):
    """The form as the confirmation page's "Yes" posts it again (what a double click repeats)."""
    return {**form, "confirm": "yes"}


@pytest.mark.parametrize("which", ["receive", "send", "replace"])
def test_a_double_click_places_one_order(admin_client, sandbox, which):
    fund_sandbox(100_000)
    form = one_form(admin_client, which)
    assert uuid.UUID(form["idempotency_key"])

    answers = post_at_once(admin_client, [form] * 3)

    [order] = Order.objects.filter(paid_from_balance=True)
    where = reverse("admin:orders_order_change", args=[order.pk])
    assert [getattr(response, "status_code", response) for _, response in answers] == [302] * 3
    assert {response["Location"] for _, response in answers} == {where}
    said = [body_of(browser.get(where)) for browser, _ in answers]
    assert sum("Order placed, paid from the prepaid balance" in page for page in said) == 1
    assert sum("This order was already placed" in page for page in said) == 2
    assert create_at_sms4sats() == 1
    assert balance() == 100_000 - order.quoted_sats  # spent once


def test_a_resubmit_places_nothing_more_and_asks_sms4sats_nothing(admin_client, sandbox, settings):
    fund_sandbox(100_000)
    form = one_form(admin_client, "receive")
    first = admin_client.post(reverse(PLACE), form)
    assert first.status_code == 302
    assert create_at_sms4sats() == 1

    settings.SMS4SATS_API_URL = unreachable_url()  # any call to sms4sats now would fail the resubmit
    again = admin_client.post(reverse(PLACE), form, follow=True)

    assert again.redirect_chain == [(first["Location"], 302)]
    assert "This order was already placed (a second click or a resubmit): nothing more was ordered." in body_of(again)
    assert Order.objects.count() == 1
    settings.SMS4SATS_API_URL = sandbox
    assert create_at_sms4sats() == 1


def test_three_tabs_replace_one_order_once(admin_client, sandbox):
    fund_sandbox(100_000)
    original = make_order(Status.REFUNDED, refund_reason="timeout", country_code=USA, service_code=TELEGRAM)
    tabs = [rendered_form(admin_client.get(reverse(PLACE), {"replaces": original.pk}), "replace-form")] * 3
    tabs = [confirmed({**tab, "idempotency_key": str(uuid.uuid4())}) for tab in tabs]  # three renders: three keys
    assert len({tab["idempotency_key"] for tab in tabs}) == 3

    answers = post_at_once(admin_client, tabs)

    [replacement] = original.replacements.all()
    codes = sorted(getattr(response, "status_code", response) for _, response in answers)
    assert codes == [302, 400, 400]
    for _, response in answers:
        if response.status_code == 400:
            assert f"A replacement of this order is already under way ({replacement.public_id})" in body_of(response)
    assert create_at_sms4sats() == 1
    assert balance() == 100_000 - replacement.quoted_sats


def test_a_post_without_the_forms_key_orders_nothing(admin_client, sandbox):
    fund_sandbox(100_000)
    for key in (None, "", "not-a-key", "1' or '1'='1"):
        data = {"country": USA, "service": TELEGRAM}
        if key is not None:
            data["idempotency_key"] = key
        response = admin_client.post(reverse(PLACE), data)
        assert response.status_code == 400
        assert "This form is out of date: reload the page and place the order again. Nothing was ordered." in (
            body_of(response)
        )
    assert not Order.objects.exists()


def test_each_render_carries_a_new_key(admin_client, sandbox):
    keys = [one_form(admin_client, which)["idempotency_key"] for which in ("receive", "receive", "send", "replace")]
    assert len(set(keys)) == 4


def test_the_database_holds_one_order_per_key_and_one_replacement_under_way(transactional_db):
    key = uuid.uuid4()
    make_order(Status.NEW, paid_from_balance=True, idempotency_key=key)
    with pytest.raises(IntegrityError):
        make_order(Status.NEW, paid_from_balance=True, idempotency_key=key)
    make_order(Status.NEW)  # orders without a key (the buyers') are not concerned
    make_order(Status.NEW)

    original = make_order(Status.REFUNDED, refund_reason="timeout")
    failed = make_order(Status.FAILED, paid_from_balance=True, replaces=original)
    under_way = make_order(Status.NEW, paid_from_balance=True, replaces=original)  # the failed one is over
    with pytest.raises(IntegrityError):
        make_order(Status.NEW, paid_from_balance=True, replaces=original)
    assert set(original.replacements.all()) == {failed, under_way}


def test_a_replacement_asks_first_then_is_on_both_orders_history(admin_client, sandbox):
    fund_sandbox(20_000)
    original = make_order(Status.REFUNDED, refund_reason="timeout", country_code=USA, service_code=TELEGRAM)
    form = rendered_form(admin_client.get(reverse(PLACE), {"replaces": original.pk}), "replace-form")
    page = admin_client.post(reverse(PLACE), form)
    text = body_of(page).replace("&#x27;", "'")
    price = receive_price(USA, TELEGRAM)
    assert "Pay from the prepaid balance?" in text and "replacing <a href" in text
    assert f"<strong>{price:,} sats</strong> are taken from <strong>your prepaid balance</strong>" in text
    assert "(it holds 20,000 sats;" in text and "The buyer pays nothing" in text
    assert "go back to your prepaid balance, not to a buyer" in text
    assert not Order.objects.filter(paid_from_balance=True).exists()  # nothing before the "Yes"

    admin_client.post(reverse(PLACE), rendered_form(page, None))
    placed = Order.objects.get(paid_from_balance=True)
    assert placed.events.get().note == "Order placed by admin, to be paid from the prepaid balance"
    logged = {(e.object_id, e.user.username, e.change_message) for e in LogEntry.objects.all()}
    assert logged == {
        (str(placed.pk), "admin", f"Placed, paid from the prepaid balance ({price:,} sats)"),
        (str(original.pk), "admin", f"Replaced from the balance by order {placed.public_id}"),
    }
