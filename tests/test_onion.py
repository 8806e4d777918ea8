"""Onion mode in production settings: the same shop at its clearnet host over HTTPS and at its onion address
over plain HTTP (sms4sats_site/onion.py). One process with the production environment answers both hosts;
the tests read what it saw."""

import io
import json
import sys

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.test_security_headers import production

ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"

PROBE = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
from orders.models import Status
from tests.factories import make_order

ONION = settings.ONION_ADDRESS
order = make_order(Status.COMPLETED, number="4915123456789", code="123456")
seen = {}

def show(name, response):
    seen[name] = {
        "status": response.status_code,
        "location": response.get("Location"),
        "hsts": response.get("Strict-Transport-Security"),
        "onion_location": response.get("Onion-Location"),
        "csp": response.get("Content-Security-Policy"),
        "cookies": {key: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"])}
                    for key, m in response.cookies.items()},
        "body": response.content.decode(errors="replace") if response.status_code == 200 else "",
    }

clear = Client(HTTP_HOST="shop.example", raise_request_exception=False)
onion = Client(HTTP_HOST=ONION, raise_request_exception=False, enforce_csrf_checks=True)
show("clear-http", clear.get("/how-it-works/?x=1"))
show("clear-https", clear.get("/how-it-works/?x=1", secure=True))
show("clear-order", clear.get(order.get_absolute_url(), secure=True))
show("clear-receipt", clear.get(f"/o/{order.public_id}/receipt", secure=True))
show("onion-page", onion.get("/how-it-works/?x=1"))
show("onion-order", onion.get(order.get_absolute_url()))
show("onion-receipt", onion.get(f"/o/{order.public_id}/receipt"))
token = onion.cookies["csrftoken"].value
post = {"language": "es", "next": "/how-it-works/", "csrfmiddlewaretoken": token}
show("onion-post", onion.post("/language/", post, HTTP_ORIGIN=f"http://{ONION}"))
show("onion-post-foreign", onion.post("/language/", post, HTTP_ORIGIN="http://evil.example"))
show("onion-https", onion.get("/how-it-works/", secure=True))
print(json.dumps({"onion": ONION, "allowed": settings.ALLOWED_HOSTS, "seen": seen}))
"""


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    database = tmp_path_factory.mktemp("onion") / "db.sqlite3"
    result = production(
        [sys.executable, "-c"],
        PROBE,
        ONION_ADDRESS=ONION.upper(),  # an address copied in capitals is the same host
        DATABASE_URL=f"sqlite:///{database}",
        SMS4SATS_API_URL="http://127.0.0.1:9/api",  # production mode, and nothing leaves this machine
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["onion"] == ONION
    assert out["allowed"][:2] == ["shop.example", ONION]  # then "testserver", added by the test environment
    return out["seen"]


def test_clearnet_http_is_redirected_and_https_names_the_onion(seen):
    assert seen["clear-http"]["status"] == 301
    assert seen["clear-http"]["location"] == "https://shop.example/how-it-works/?x=1"
    assert seen["clear-https"]["status"] == 200
    assert seen["clear-https"]["hsts"].startswith("max-age=")
    assert seen["clear-https"]["onion_location"] == f"http://{ONION}/how-it-works/?x=1"
    assert "upgrade-insecure-requests" in seen["clear-https"]["csp"]


def test_onion_is_served_over_http_without_redirect_or_hsts(seen):
    page = seen["onion-page"]
    assert page["status"] == 200 and page["location"] is None
    assert page["hsts"] is None and page["onion_location"] is None
    assert "upgrade-insecure-requests" not in page["csp"]
    assert "script-src 'self'" in page["csp"]  # the rest of the policy stays
    # Over HTTPS (a proxy saying so) the onion still gets no HSTS: it must stay reachable over HTTP.
    assert seen["onion-https"]["status"] == 200 and seen["onion-https"]["hsts"] is None


def test_cookies_are_secure_on_clearnet_and_not_on_the_onion(seen):
    clear_cookies = seen["clear-order"]["cookies"] | seen["clear-https"]["cookies"]
    assert clear_cookies and all(c["secure"] for c in clear_cookies.values()), clear_cookies
    onion_cookies = seen["onion-page"]["cookies"] | seen["onion-post"]["cookies"]
    assert {"csrftoken", "django_language"} <= set(onion_cookies), onion_cookies
    assert not any(c["secure"] for c in onion_cookies.values()), onion_cookies
    assert onion_cookies["django_language"]["httponly"]


def test_a_post_from_the_onion_origin_passes_csrf(seen):
    assert seen["onion-post"]["status"] == 302, seen["onion-post"]
    assert seen["onion-post"]["location"] == "/how-it-works/"
    assert seen["onion-post-foreign"]["status"] == 403


def test_links_the_buyer_sees_use_the_host_they_came_in_on(seen):
    order_path = "/o/"
    for page in ("onion-order", "onion-receipt"):
        body = seen[page]["body"]
        assert f"http://{ONION}{order_path}" in body, page
        assert "shop.example" not in body, page
    for page in ("clear-order", "clear-receipt"):
        body = seen[page]["body"]
        assert f"https://shop.example{order_path}" in body, page
        assert ONION not in body, page


# The address for the operator: the dashboard and `manage.py onion_address` ----------------------------

OTHER = "a" * 56 + ".onion"


@pytest.fixture
def hostname_file(tmp_path, settings):
    path = tmp_path / "hostname"
    settings.ONION_HOSTNAME_FILE = str(path)
    return path


def onion_address():
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("onion_address", stdout=out, stderr=err)
    except CommandError as exc:
        return None, f"{err.getvalue()}{exc}"
    return out.getvalue().strip(), err.getvalue().strip()


def test_the_command_prints_the_address_served_or_written(settings, hostname_file):
    settings.ONION_ADDRESS = ""
    address, said = onion_address()
    assert address is None and "no onion address" in said
    hostname_file.write_text(f"{ONION}\n")  # as tor writes it
    address, said = onion_address()
    assert address == ONION and f"set ONION_ADDRESS={ONION}" in said
    settings.ONION_ADDRESS = ONION
    assert onion_address() == (ONION, "")
    hostname_file.write_text(f"{OTHER}\n")  # new keys: the shop still answers the old address
    address, said = onion_address()
    assert address == ONION and f"tor serves {OTHER}: set ONION_ADDRESS={OTHER}" in said


@pytest.mark.django_db
def test_the_dashboard_shows_the_onion_address(admin_client, settings, hostname_file):
    settings.ONION_ADDRESS = ""
    assert 'id="onion-address"' not in admin_client.get(reverse("admin:dashboard")).content.decode()
    hostname_file.write_text(f"{ONION}\n")
    card = admin_client.get(reverse("admin:dashboard")).content.decode().split('id="onion-address"', 1)[1][:600]
    assert "not served" in card and f"set ONION_ADDRESS={ONION}" in card
    settings.ONION_ADDRESS = ONION
    card = admin_client.get(reverse("admin:dashboard")).content.decode().split('id="onion-address"', 1)[1][:600]
    assert f'href="http://{ONION}/"' in card and "set ONION_ADDRESS" not in card


def test_the_security_middleware_runs_first_as_the_per_host_subclass(settings):
    """The deploy check's W001 is silenced because it looks for Django's class by name: this is what it wanted."""
    from django.middleware.security import SecurityMiddleware
    from django.utils.module_loading import import_string

    assert issubclass(import_string(settings.MIDDLEWARE[0]), SecurityMiddleware)
    assert settings.SILENCED_SYSTEM_CHECKS == ["security.W001"]
