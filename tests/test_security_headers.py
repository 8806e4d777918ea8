"""Security headers on every main page (CSP without inline scripts, framing, referrer, nosniff), and
production settings that pass ``check --deploy`` with HSTS and secure cookies."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.urls import reverse

from orders.models import Kind, Status
from sms4sats_site import security
from sms4sats_site.settings import BASE_DIR
from tests.factories import make_order

pytestmark = pytest.mark.django_db


def csp_of(response):
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_secure_headers(response, *, inline_styles=False):
    policy = csp_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no unsafe-inline, no unsafe-eval, no other origin
    assert policy["style-src"] == (["'self'", "'unsafe-inline'"] if inline_styles else ["'self'"])
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def assert_no_inline_code(html):
    """What the CSP would block: inline scripts, event handler attributes, style attributes and blocks."""
    for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.I | re.S):
        assert "src=" in attributes and not body.strip(), attributes
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"
    assert not re.search(r"<style\b", html, flags=re.I), "inline <style>"
    assert not re.search(r"\sstyle\s*=", html, flags=re.I), "style attribute"
    assert "javascript:" not in html.lower()


def storefront_orders():
    return [
        make_order(Status.UNPAID),
        make_order(Status.WAITING_CODE, number="4915123456789"),
        make_order(Status.COMPLETED, number="4915123456789", code="123456", completed_at=None),
        make_order(Status.REFUNDED, refund_reason="no_number"),
        make_order(Status.HELD, kind=Kind.SEND),
    ]


def test_storefront_pages(client, upstream):
    urls = ["/", "/?country=43", "/send/", "/rent/", "/orders/", "/how-it-works/"]
    urls += [order.get_absolute_url() for order in storefront_orders()]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)
        assert_no_inline_code(response.content.decode())


def test_htmx_is_local_without_its_indicator_styles(client, upstream):
    html = client.get("/").content.decode()
    assert '"includeIndicatorStyles":false' in html
    scripts = re.findall(r'<script\b[^>]*src="([^"]+)"', html)
    assert scripts and all(src.startswith("/") and not src.startswith("//") for src in scripts)
    assert any("htmx" in src for src in scripts)


def test_partials_and_posts(client, upstream):
    order = make_order(Status.WAITING_CODE, number="4915123456789")
    responses = [
        client.get(reverse("orders:status", args=[order.public_id])),
        client.get("/catalog/services?country=43"),
        client.get("/catalog/price?country=43&service=tg"),
        client.post("/send/", {"phone": "nope", "message": ""}),
        client.post("/", {"country": 43, "service": "tg"}),  # a redirect to the new order
    ]
    for response in responses:
        assert response.status_code < 400
        assert_secure_headers(response)
        assert_no_inline_code(response.content.decode())


def test_unchanged_polls_have_every_header(client):
    # The hottest answers of the site (204, and 286 once final) are the ones whose header is built once.
    for order in (make_order(Status.WAITING_CODE, number="4915123456789"), make_order(Status.EXPIRED)):
        url = reverse("orders:status", args=[order.public_id])
        version = re.search(r'data-version="([^"]+)"', client.get(url).content.decode()).group(1)
        for _ in range(2):  # a miss (the row), then the cache
            response = client.get(url, headers={"X-Order-Version": version})
            assert response.status_code in (204, 286) and response.content == b""
            assert_secure_headers(response)
            assert response["Content-Language"] == "en"
            assert {"Accept-Language", "Cookie"} <= {v.strip() for v in response["Vary"].split(",")}


def test_the_policy_is_built_once_per_variant(client, monkeypatch):
    built = []
    real_build = security.build_policy
    monkeypatch.setattr(security, "build_policy", lambda **kw: built.append(kw) or real_build(**kw))
    security._policies.clear()
    for _ in range(3):  # storefront and admin alternating: each keeps its own policy
        assert_secure_headers(client.get("/how-it-works/"))
        assert_secure_headers(client.get("/admin/login/"), inline_styles=True)
    assert len(built) == 2


def test_a_settings_change_is_seen_by_the_next_answer(client, settings):
    assert "upgrade-insecure-requests" not in client.get("/ping")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "upgrade-insecure-requests": True}
    }
    assert "upgrade-insecure-requests" in client.get("/ping")["Content-Security-Policy"]


def test_errors_have_the_headers(client, settings, upstream):
    settings.ORDER_RATE_PER_SESSION = "1/h"  # not a minute's window, which could end between the two orders
    for response in (client.get("/o/00000000-0000-0000-0000-000000000000/"), client.get("/no-such-page")):
        assert response.status_code == 404
        assert_secure_headers(response)
    sms = {"phone": "+447911123456", "message": "y"}  # valid: only placed orders count
    assert client.post("/send/", sms).status_code == 302
    too_many = client.post("/send/", sms)
    assert too_many.status_code == 429
    assert_secure_headers(too_many)
    assert_no_inline_code(too_many.content.decode())


def test_the_orders_paused_page_has_the_headers(client, upstream, redis_down):
    paused = client.post("/send/", {"phone": "+447911123456", "message": "y"})
    assert paused.status_code == 503
    assert_secure_headers(paused)
    assert_no_inline_code(paused.content.decode())


def test_admin_pages_allow_inline_styles_but_never_inline_scripts(client, admin_client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_secure_headers(response, inline_styles=True)
    make_order(Status.COMPLETED, number="4915123456789", code="123456")
    for url in ("/admin/", "/admin/orders/order/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response, inline_styles=True)
        html = response.content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\son[a-z]+\s*=\s*\"", html, flags=re.I), "inline event handler"


def test_development_mode_has_no_hsts_or_secure_cookies(client, upstream):
    response = client.get("/")
    assert "Strict-Transport-Security" not in response
    assert "upgrade-insecure-requests" not in response["Content-Security-Policy"]


# Production ---------------------------------------------------------------------------------------------

PRODUCTION_ENV = {
    "SMS4SATS_API_URL": "https://api2.sms4sats.com",
    "ALLOWED_HOSTS": "shop.example",
    "PUBLIC_BASE_URL": "https://shop.example",
}
CLEARED = (
    "SANDBOX",
    "DEBUG",
    "SMS4SATS_API_KEY",
    "SMS4SATS_REF",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "ONION_ADDRESS",
)  # the browser tests set the last one in this process


def production(argv, code="", **extra_env):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(PRODUCTION_ENV, SECRET_KEY=secrets.token_urlsafe(50), **extra_env)
    return subprocess.run(
        argv + ([code] if code else []), cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production():
    result = production([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    # One silenced: security.W001 looks for SecurityMiddleware by name; the shop runs a subclass (onion mode).
    assert "System check identified no issues (1 silenced)." in result.stdout
    assert "WARNING" not in result.stderr and "?: (security" not in result.stdout + result.stderr


PRODUCTION_PROBE = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="shop.example", raise_request_exception=False)
plain = client.get("/how-it-works/")
print("plain", plain.status_code, plain.get("Location"))
secure = client.get("/how-it-works/", secure=True)
print("secure", secure.status_code)
print("hsts", secure.get("Strict-Transport-Security"))
print("csp", secure.get("Content-Security-Policy"))
from django.conf import settings
print("cookies", settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY)
print("sandbox", settings.SANDBOX)
print("sandbox-url", client.get("/sandbox/wallet/", secure=True).status_code)
"""


def test_production_headers_hsts_and_secure_cookies():
    result = production([sys.executable, "-c"], PRODUCTION_PROBE)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["plain"] == "301 https://shop.example/how-it-works/"
    assert lines["secure"] == "200"
    assert lines["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self';" in lines["csp"] + ";" and "upgrade-insecure-requests" in lines["csp"]
    assert "unsafe-inline" not in lines["csp"]
    assert lines["cookies"] == "True True True"
    assert lines["sandbox"] == "False"
    assert lines["sandbox-url"] == "404"
