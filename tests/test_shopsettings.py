"""The admin's settings page (shopsettings/): the environment's checks and one-line errors next to the field, the
environment winning, the history with who changed what (never a secret), every process re-reading a save
through ``runtime.get``, and the dashboard's first-run checklist."""

import html

import pytest
from django.core.cache import cache
from django.urls import reverse

from shopsettings import runtime
from shopsettings.models import SettingChange, StoredSetting
from tests.test_settings import start

PAGE = "admin:shopsettings_storedsetting_changelist"
SECRET = "sk-live-never-show-me-4242"


def post(client, **values):
    """The page's form as a browser sends it: every editable field, changed ones as given."""
    data = {"ALERT_DAILY_SUMMARY": "", **values}
    return client.post(reverse(PAGE), data)


def field_error(response, name):
    form = response.context["form"]
    return form.errors.get(name, [None])[0]


@pytest.mark.parametrize(
    "name, bad",
    [
        ("SMS4SATS_REF", "not-an-address"),
        ("METRICS_TOKEN", "short"),
        ("FIAT_CURRENCIES", "USD,euro"),
        ("ALERT_DAILY_SUMMARY_HOUR", "25"),
        ("ALERT_REFUNDS_PER_HOUR", "-1"),
        ("ALERT_BALANCE_MIN_SATS", "lots"),
    ],
)
def test_a_bad_value_is_refused_on_the_page_with_the_environments_line(admin_client, name, bad):
    response = post(admin_client, **{name: bad})
    assert response.status_code == 200  # the page again, with the error; nothing saved
    error = field_error(response, name)
    started = start({name: bad})  # the same value in the environment stops start-up
    assert started.returncode != 0
    assert started.stderr.strip() == f"Configuration error: {name}: {error}"
    body = response.content.decode()
    assert f'id="error-{name}"' in body and html.escape(error) in body
    assert not StoredSetting.objects.exists() and not SettingChange.objects.exists()


def test_saving_records_who_changed_what_and_applies_at_once(admin_client, admin_user):
    assert runtime.get("SMS4SATS_REF") is None
    response = post(admin_client, SMS4SATS_REF="shop@example.com", ALERT_REFUNDS_PER_HOUR="3")
    assert response.status_code == 302
    assert runtime.get("SMS4SATS_REF") == "shop@example.com"
    assert runtime.get("ALERT_REFUNDS_PER_HOUR") == 3  # through the check: an int, as from the environment
    changes = {c.name: c for c in SettingChange.objects.all()}
    assert set(changes) == {"SMS4SATS_REF", "ALERT_REFUNDS_PER_HOUR"}
    assert changes["SMS4SATS_REF"].user == admin_user and changes["SMS4SATS_REF"].new == "shop@example.com"

    post(admin_client, SMS4SATS_REF="")  # emptied: the default again (the environment's, or none)
    assert runtime.get("SMS4SATS_REF") is None
    body = admin_client.get(reverse(PAGE)).content.decode()
    history = body[body.index('id="settings-history"') :]
    assert history.count("shop@example.com") == 2 and admin_user.username in history and "(removed)" in history


def test_the_environment_wins_and_shows_as_fixed(admin_client, settings):
    settings.ADMIN_SETTINGS_FROM_ENV = frozenset({"SMS4SATS_REF", "METRICS_TOKEN"})
    settings.SMS4SATS_REF = "env@example.com"
    settings.METRICS_TOKEN = "t" * 20 + "-env-token"
    StoredSetting.objects.create(name="SMS4SATS_REF", value="page@example.com")  # e.g. saved before the env was set
    assert runtime.get("SMS4SATS_REF") == "env@example.com"

    body = admin_client.get(reverse(PAGE)).content.decode()
    row = body[body.index('id="setting-SMS4SATS_REF"') :][:1500]
    assert "set in the environment" in row and "disabled" in row and "env@example.com" in row
    assert settings.METRICS_TOKEN not in body  # a fixed secret is not shown either

    post(admin_client, SMS4SATS_REF="other@example.com")
    assert runtime.get("SMS4SATS_REF") == "env@example.com"
    assert not SettingChange.objects.filter(name="SMS4SATS_REF").exists()


def test_a_secret_is_never_shown_back_nor_recorded(admin_client):
    post(admin_client, SMS4SATS_API_KEY=SECRET)
    assert runtime.get("SMS4SATS_API_KEY") == SECRET
    page = admin_client.get(reverse(PAGE)).content.decode()
    assert SECRET not in page and "One is saved" in page

    post(admin_client)  # the empty password box keeps it
    assert runtime.get("SMS4SATS_API_KEY") == SECRET
    post(admin_client, SMS4SATS_API_KEY=SECRET + "-2")
    post(admin_client, clear_SMS4SATS_API_KEY="on")
    assert runtime.get("SMS4SATS_API_KEY") == "sandbox-api-key"  # the default again (the sandbox's key)

    recorded = list(SettingChange.objects.order_by("id").values_list("old", "new"))
    assert recorded == [("", "set"), ("", "changed"), ("", "cleared")]
    assert SECRET not in admin_client.get(reverse(PAGE)).content.decode()


def test_another_process_reads_a_save_within_a_second(db, monkeypatch):
    assert runtime.get("SMS4SATS_REF") is None  # this process has loaded its snapshot
    # Another process saves: its rows and a new version in Redis.
    StoredSetting.objects.create(name="SMS4SATS_REF", value="other@example.com")
    cache.set(runtime.VERSION_KEY, "from-another-process", timeout=None)
    assert runtime.get("SMS4SATS_REF") is None  # within the second: the snapshot, no Redis or database call
    monkeypatch.setattr(runtime, "CHECK_SECONDS", 0)
    assert runtime.get("SMS4SATS_REF") == "other@example.com"


def test_with_redis_away_the_saved_values_still_apply(db, redis_down):
    StoredSetting.objects.create(name="ALERT_URLS", value="json://127.0.0.1:9/x")
    assert runtime.get("ALERT_URLS") == "json://127.0.0.1:9/x"


def test_a_user_who_may_only_view_cannot_save(client, db, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_storedsetting"))
    client.force_login(user)
    assert client.get(reverse(PAGE)).status_code == 200
    assert post(client, SMS4SATS_REF="x@example.com").status_code == 403
    assert not StoredSetting.objects.exists()


def test_the_dashboard_checklist_until_each_step_is_done(admin_client, settings):
    from orders import referral

    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert 'id="first-run"' in body
    assert 'id="step-referral" class="shop-bad"' in body and 'id="step-alerts" class="shop-bad"' in body
    assert 'id="step-api-key" class="shop-ok"' in body  # the sandbox needs none

    post(admin_client, SMS4SATS_REF="shop@example.com", ALERT_URLS="json://127.0.0.1:9/alerts")
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert "shop@example.com is set; not checked yet." in body  # resolving is the periodic check's result
    cache.set(
        referral.LAST_RESULT_KEY,
        {"address": "shop@example.com", "ok": True, "detail": "a pay request for 1 to 10 sats"},
    )
    body = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert 'id="first-run"' not in body
