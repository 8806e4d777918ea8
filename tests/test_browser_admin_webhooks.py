"""The delivery log in a real browser: an operator signs in, reads a delivery's attempts and presses
"Redeliver" (a form POST with its CSRF token); a real worker sends the event again to a local receiver."""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from orders import lifecycle
from orders.models import Status
from tests.browser import shoot, wait_until
from tests.factories import make_order
from webhooks import delivery as sending
from webhooks.models import Delivery, Endpoint, EventType

pytestmark = pytest.mark.browser


def test_redeliver_from_the_delivery_page(page, live_server, celery_worker, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = (0,)
    User.objects.create_superuser("operator", password="a long operator password")
    Endpoint.objects.create(url=receiver.url, events=[EventType.ORDER_PAID], description="Accounting")
    receiver.answer(500, '{"error": "database is restarting"}')
    order = make_order(Status.UNPAID)
    lifecycle.transition(order, Status.HELD, paid_at=timezone.now())  # the worker sends attempt 1
    delivery = Delivery.objects.get()
    assert wait_until(lambda: delivery.log.count() == 1, 15)
    sending.enqueue_due()  # the beat sweep: attempt 2
    assert wait_until(lambda: Delivery.objects.get().state == Delivery.State.DELIVERED, 15)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/webhooks/delivery/{delivery.pk}/change/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a long operator password")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Delivery log")
    rows = page.locator(".inline-group tbody tr.has_original")
    assert rows.count() == 2
    assert "500" in rows.nth(0).inner_text() and "database is restarting" in rows.nth(0).inner_text()
    assert "200" in rows.nth(1).inner_text()
    shoot(page, "hooks-delivery-log")

    page.click("button.redeliver")
    page.wait_for_selector("text=queued again")
    assert wait_until(lambda: len(receiver.posts) == 3, 15)
    assert receiver.posts[2][1]["Webhook-Id"] == str(delivery.event.public_id)
    assert wait_until(lambda: Delivery.objects.exclude(pk=delivery.pk).get().state == Delivery.State.DELIVERED, 15)
    page.reload()
    assert page.locator(".inline-group tbody tr.has_original").count() == 1
    shoot(page, "hooks-redelivered")
    page.goto(f"{live_server.url}/admin/webhooks/delivery/")
    shoot(page, "hooks-delivery-list")
    page.goto(f"{live_server.url}/admin/webhooks/endpoint/add/")
    assert page.input_value("#id_secret").startswith("whsec_")  # generated, for the operator to copy
    shoot(page, "hooks-endpoint-form")
