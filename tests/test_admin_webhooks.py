"""The webhooks in the admin: endpoints (URL, generated secret, events as choices) and the delivery log with its
"Redeliver" button (POST with CSRF) and action, sending to a real local receiver."""

import re

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import lifecycle
from orders.models import Status
from tests.factories import make_order
from webhooks import delivery as sending
from webhooks.models import SUBSCRIBABLE, Attempt, Delivery, Endpoint, EventType


def delivered_once(receiver, answer=(500, "internal trouble <b>")):
    """An order paid with one endpoint subscribed: two attempts, the first refused, the second accepted."""
    Endpoint.objects.create(url=receiver.url, events=[EventType.ORDER_PAID], description="Accounting")
    order = make_order(Status.UNPAID)
    lifecycle.transition(order, Status.HELD, paid_at=timezone.now())
    delivery = Delivery.objects.get()
    receiver.answer(*answer)
    sending.attempt(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    sending.attempt(delivery.pk)
    return delivery


def test_endpoint_form_generates_a_secret_and_offers_the_events(admin_client, db):
    page = admin_client.get(reverse("admin:webhooks_endpoint_add")).content.decode()
    secret = re.search(r'name="secret" value="(whsec_[^"]+)"', page).group(1)
    assert len(secret) > 40
    for event in SUBSCRIBABLE:
        assert f'value="{event.value}"' in page and 'type="checkbox"' in page
    assert 'value="webhook.test"' not in page  # sent only by "Send test event"
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "https://example.com/hooks", "secret": secret, "events": ["order.paid", "order.completed"],
         "active": "on", "description": ""},
    )  # fmt: skip
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["order.paid", "order.completed"] and endpoint.secret == secret and endpoint.active
    changelist = admin_client.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    assert "https://example.com/hooks" in changelist and "order.paid, order.completed" in changelist


def test_endpoint_form_refuses_bad_input(admin_client, db):
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "ftp://example.com/x", "secret": "s", "events": ["order.nonsense"], "active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "url" in errors and "events" in errors
    assert not Endpoint.objects.exists()


def test_delivery_log_pages(admin_client, receiver):
    delivery = delivered_once(receiver)
    changelist = admin_client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    assert "order.paid" in changelist and "Delivered" in changelist and "Accounting" in changelist
    filtered = admin_client.get(reverse("admin:webhooks_delivery_changelist"), {"state__exact": "pending"})
    assert filtered.status_code == 200 and filtered.context["cl"].result_count == 0

    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    assert str(delivery.event.public_id) in page
    assert "HTTP 500" in page and "internal trouble &lt;b&gt;" in page  # the answer, escaped
    assert "200" in page and "delivery log" in page.lower()
    assert "&quot;type&quot;: &quot;order.paid&quot;" in page  # the body sent
    assert reverse("admin:webhooks_delivery_redeliver", args=[delivery.pk]) in page
    assert 'name="_save"' not in page  # the log is read-only


def test_redeliver_button_needs_post_and_csrf(receiver, admin_user):
    delivery = delivered_once(receiver)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = reverse("admin:webhooks_delivery_redeliver", args=[delivery.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403  # no CSRF token
    assert Delivery.objects.count() == 1

    page = client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    token = re.search(rf'action="{url}">\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"', page)
    response = client.post(url, {"csrfmiddlewaretoken": token.group(1)}, follow=True)
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert response.redirect_chain == [(reverse("admin:webhooks_delivery_change", args=[again.pk]), 302)]
    assert "queued again" in response.content.decode()
    assert again.event_id == delivery.event_id and again.state == Delivery.State.PENDING
    sending.attempt(again.pk)  # what the worker does once the button's transaction commits
    assert len(receiver.posts) == 3
    assert receiver.posts[2][1]["Webhook-Id"] == receiver.posts[0][1]["Webhook-Id"]


def test_redeliver_action_and_refusal(admin_client, receiver):
    delivery = delivered_once(receiver, answer=(200, "ok"))
    changelist = reverse("admin:webhooks_delivery_changelist")
    response = admin_client.post(
        changelist, {"action": "redeliver_selected", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "queued again" in response.content.decode()
    assert Delivery.objects.count() == 2
    # The audit trail: on the delivery's History (and its order's, when it has one), with the user.
    entry = LogEntry.objects.get(object_id=str(delivery.pk), content_type__model="delivery")
    assert entry.user.username == "admin" and entry.change_message.startswith("Redelivered webhook ")
    Endpoint.objects.update(active=False)
    response = admin_client.post(
        changelist, {"action": "redeliver_selected", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "not sent, its endpoint is inactive" in response.content.decode()
    assert Delivery.objects.count() == 2


def test_viewing_the_log_does_not_allow_redelivering(receiver, db):
    delivery = delivered_once(receiver)
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = Client()
    client.force_login(viewer)
    page = client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and "Redeliver" not in page.content.decode()
    changelist = client.get(reverse("admin:webhooks_delivery_changelist"))
    assert changelist.status_code == 200 and "redeliver_selected" not in changelist.content.decode()
    assert client.post(reverse("admin:webhooks_delivery_redeliver", args=[delivery.pk])).status_code == 403
    assert Delivery.objects.count() == 1 and Attempt.objects.count() == 2
