"""Webhooks an operator can trust (#27): "Send test event" per endpoint (signed, logged), secret rotation with an
overlap during which both signatures are sent and the docs' snippet verifies either, and the delivery list's
state, last status and error. Real POSTs to a real local receiver."""

import json
import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.test_webhooks import readme_verify, send_all
from webhooks.models import Delivery, Endpoint, EventType


def test_send_test_event_from_the_endpoint_page(admin_client, receiver):
    endpoint = Endpoint.objects.create(url=receiver.url, events=["order.paid"], description="Accounting")
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    button = reverse("admin:webhooks_endpoint_test", args=[endpoint.pk])
    assert f'action="{button}"' in page and "Send test event" in page
    assert admin_client.get(button).status_code == 405  # a POST only

    response = admin_client.post(button)
    test = Delivery.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:webhooks_delivery_change", args=[test.pk]
    )
    send_all()
    [(path, headers, body)] = receiver.posts
    sent = json.loads(body)
    assert sent["type"] == "webhook.test" and sent["data"]["sent_by"] == "admin" and "public_id" not in sent["data"]
    assert readme_verify()(endpoint.secret, body, headers["Webhook-Signature"])
    test.refresh_from_db()
    assert test.state == Delivery.State.DELIVERED and test.event.type == EventType.TEST
    log = admin_client.get(reverse("admin:webhooks_delivery_change", args=[test.pk])).content.decode()
    assert "webhook.test" in log and "200" in log  # in the delivery log, with its answer


def test_send_test_event_action_and_an_inactive_endpoint(admin_client, receiver):
    on = Endpoint.objects.create(url=receiver.url, events=[])
    off = Endpoint.objects.create(url=receiver.url + "/off", events=[], active=False)
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_changelist"),
        {"action": "send_test_event", "_selected_action": [on.pk, off.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "test event queued" in text and "not sent, the endpoint is inactive" in text
    assert list(Delivery.objects.values_list("endpoint", flat=True)) == [on.pk]


def test_a_rotated_secret_signs_beside_the_new_one_through_the_overlap(admin_client, receiver, settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    endpoint = Endpoint.objects.create(url=receiver.url, events=["order.paid"])
    old = endpoint.secret
    new = "whsec_" + "n" * 43
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        {"url": receiver.url, "secret": new, "events": ["order.paid"], "active": "on", "description": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret == new and endpoint.previous_secret == old
    assert timedelta(hours=23) < endpoint.previous_secret_until - timezone.now() <= timedelta(hours=24)
    page = admin_client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    assert "also signs until" in page

    admin_client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    send_all()
    _, headers, body = receiver.posts[-1]
    header = headers["Webhook-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}", header)
    verify = readme_verify()
    assert verify(new, body, header) and verify(old, body, header)  # a receiver on either secret accepts it
    assert not verify("whsec_other", body, header)

    # The overlap is over: only the new secret signs.
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    admin_client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    send_all()
    _, headers, body = receiver.posts[-1]
    assert headers["Webhook-Signature"].count("v1=") == 1
    assert verify(new, body, headers["Webhook-Signature"]) and not verify(old, body, headers["Webhook-Signature"])


def test_the_rotate_action_makes_a_new_secret(admin_client, db):
    endpoint = Endpoint.objects.create(url="https://example.com/hook", events=[])
    old = endpoint.secret
    response = admin_client.post(
        reverse("admin:webhooks_endpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_") and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode()  # shown once, to copy to the receiver
    assert endpoint.signing_secrets() == [endpoint.secret, old]


def test_the_delivery_list_shows_state_last_status_and_error(admin_client, receiver):
    Endpoint.objects.create(url=receiver.url, events=[])
    endpoint = Endpoint.objects.get()
    receiver.answer(503, "busy")
    admin_client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    send_all()
    listing = admin_client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    for column in ("field-state", "field-last_status", "field-last_error"):
        assert column in listing
    assert ">503<" in listing and "HTTP 503" in listing and "Pending" in listing
