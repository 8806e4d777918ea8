"""Privacy: no client IP address in the database, and old orders' numbers, codes, phones and messages purged."""

from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.utils import timezone

from orders.models import Kind, Order, OrderEvent, Status
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def test_no_model_can_hold_an_ip_address():
    for model in apps.get_models():
        for field in model._meta.get_fields():
            assert not isinstance(field, models.GenericIPAddressField), f"{model.__name__}.{field.name}"
            assert "ip" not in field.name.lower().split("_"), f"{model.__name__}.{field.name}"
            assert "addr" not in field.name.lower(), f"{model.__name__}.{field.name}"


def test_placing_an_order_stores_no_ip_address(client, upstream, settings):
    address = "198.51.100.123"
    response = client.post("/", {"country": 43, "service": "tg"}, REMOTE_ADDR=address)
    assert response.status_code == 302
    from django.contrib.sessions.models import Session

    stored = [repr(list(Order.objects.values())), repr(list(OrderEvent.objects.values()))]
    stored += [s.get_decoded().__repr__() + s.session_data for s in Session.objects.all()]
    assert not any(address in text for text in stored)


def order(age_days, status=Status.COMPLETED, kind=Kind.RECEIVE, **fields):
    """An order placed ``age_days`` ago with personal data: its number and code (a send order: its phone and
    message), the buyer's session, and the upstream's snapshot in its timeline."""
    personal = dict(
        country_code=43,
        country_name="Germany",
        service_code="tg",
        service_name="Telegram",
        number="4915123456789",
        code="12345",
        session_key="s" * 32,
    )
    if kind == Kind.SEND:
        personal.update(phone="+447911123456", message="my secret", number="", code="")
    personal.update(fields)
    snapshot = {"number": personal["number"], "code": personal["code"], "paid": True}
    events = [
        dict(to_status=Status.NEW, note="Order placed"),
        dict(from_status=Status.WAITING_CODE, to_status=status, note="Code received", upstream=snapshot),
    ]
    created_at = timezone.now() - timedelta(days=age_days)
    return make_order(status, kind, created_at=created_at, events=events, **personal)


def test_purge_blanks_personal_data_of_old_final_orders_only():
    old = order(100)
    old_send = order(95, kind=Kind.SEND)
    old_refunded = order(200, status=Status.REFUNDED, code="")
    recent = order(10)
    old_but_live = order(120, status=Status.WAITING_CODE, code="")
    out = StringIO()
    call_command("purge_personal_data", "--older-than-days", "90", stdout=out)
    assert "Purged the personal data of 3 orders and 3 upstream snapshots older than 90 days." in out.getvalue()
    for o in (old, old_send, old_refunded):
        o.refresh_from_db()
        assert (o.number, o.code, o.phone, o.message, o.session_key) == ("", "", "", "", "")
        assert all(e.upstream is None for e in o.events.all())
        assert [e.note for e in o.events.all()] == ["Order placed", "Code received"]  # the timeline stays
    old.refresh_from_db()
    assert (old.status, old.country_name, old.service_name, old.quoted_sats) == (
        Status.COMPLETED,
        "Germany",
        "Telegram",
        1500,
    )
    for o in (recent, old_but_live):
        o.refresh_from_db()
        assert o.number == "4915123456789" and o.events.exclude(upstream=None).exists()
    # Running it again changes nothing.
    out = StringIO()
    call_command("purge_personal_data", "--older-than-days", "90", stdout=out)
    assert "of 0 orders and 0 upstream snapshots" in out.getvalue()


def test_default_age_comes_from_settings_and_dry_run_changes_nothing(settings):
    settings.PERSONAL_DATA_RETENTION_DAYS = 30
    forty = order(40)
    out = StringIO()
    call_command("purge_personal_data", "--dry-run", stdout=out)
    assert "Would purge 1 orders and 1 upstream snapshots older than 30 days." in out.getvalue()
    forty.refresh_from_db()
    assert forty.code == "12345"
    call_command("purge_personal_data", stdout=StringIO())
    forty.refresh_from_db()
    assert forty.code == "" and forty.number == ""


def test_purged_order_page_still_works(client):
    o = order(100)
    call_command("purge_personal_data", stdout=StringIO())
    response = client.get(o.get_absolute_url())
    assert response.status_code == 200
    assert "12345" not in response.content.decode()


def test_negative_age_is_refused():
    with pytest.raises(CommandError):
        call_command("purge_personal_data", "--older-than-days", "-1")


def test_beat_runs_the_purge_daily_with_the_configured_age(settings):
    from orders.tasks import purge_personal_data

    assert settings.CELERY_BEAT_SCHEDULE["purge-personal-data"]["task"] == "orders.tasks.purge_personal_data"
    settings.PERSONAL_DATA_RETENTION_DAYS = 30
    old, recent = order(31, number="4915000000001"), order(29, number="4915000000002")
    purge_personal_data()
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.number == "" and recent.number == "4915000000002"
