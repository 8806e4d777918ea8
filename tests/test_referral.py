"""The referral address (SMS4SATS_REF) resolved as a Lightning Address (LUD-16) against a real local LNURL server:
the resolver, ``manage.py sms4sats_check``, the periodic check (stored result, alerts) and the dashboard card."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from alerts import checks
from alerts.models import AlertLog, Event
from orders import referral
from tests.local_servers import LocalHttpServer

PAY_REQUEST = {
    "tag": "payRequest",
    "callback": "https://wallet.example/lnurlp/operator/callback",
    "minSendable": 1000,
    "maxSendable": 100_000_000,
    "metadata": '[["text/plain", "Pay operator"]]',
}


def answer(body, status=200):
    return status, body if isinstance(body, bytes) else json.dumps(body).encode()


@pytest.fixture
def lnurl_server():
    routes = {
        "/.well-known/lnurlp/good": answer(PAY_REQUEST),
        "/.well-known/lnurlp/malformed": answer(b"<html>not json</html>"),
        "/.well-known/lnurlp/wrongtag": answer({**PAY_REQUEST, "tag": "withdrawRequest"}),
        "/.well-known/lnurlp/error": answer({"status": "ERROR", "reason": "unknown user"}),
        "/.well-known/lnurlp/amounts": answer({**PAY_REQUEST, "minSendable": 5000, "maxSendable": 1000}),
        "/.well-known/lnurlp/nocallback": answer({**PAY_REQUEST, "callback": None}),
        "/.well-known/lnurlp/servererror": answer({"status": "ERROR"}, status=500),
    }
    with LocalHttpServer(routes=routes) as server:
        server.domain = f"127.0.0.1:{server.port}"
        yield server


def test_a_good_address_resolves(lnurl_server):
    result = referral.resolve(f"good@{lnurl_server.domain}")
    assert result.ok, result.detail
    assert result.detail == "a pay request for 1 to 100,000 sats"
    assert result.url == f"http://{lnurl_server.domain}/.well-known/lnurlp/good"
    assert [get.path for get in lnurl_server.gets] == ["/.well-known/lnurlp/good"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("missing", "answered HTTP 404"),
        ("malformed", "the answer is not JSON"),
        ("wrongtag", "not a pay request (tag 'withdrawRequest'"),
        ("error", "the wallet answered an error: unknown user"),
        ("amounts", "minSendable/maxSendable are not amounts"),
        ("nocallback", "no callback URL"),
        ("servererror", "answered HTTP 500"),
    ],
)
def test_what_does_not_resolve_says_why(lnurl_server, name, why):
    result = referral.resolve(f"{name}@{lnurl_server.domain}")
    assert not result.ok
    assert why in result.detail


def test_nothing_listening():
    result = referral.resolve("operator@127.0.0.1:9", timeout=2)
    assert not result.ok and result.detail.startswith("no answer from http://127.0.0.1:9/.well-known/lnurlp/operator")


@pytest.mark.parametrize("address", ["operator", "@example.com", "op erator@example.com", "op@exa mple.com", ""])
def test_not_an_address(address):
    result = referral.resolve(address)
    assert not result.ok and "is not a Lightning Address" in result.detail


def test_https_except_on_this_machine_or_when_allowed(settings):
    settings.REFERRAL_ALLOW_HTTP = False
    assert referral.lnurlp_url("Operator@Wallet.example") == "https://wallet.example/.well-known/lnurlp/operator"
    assert referral.lnurlp_url("op@localhost:8080") == "http://localhost:8080/.well-known/lnurlp/op"
    assert referral.lnurlp_url("op@127.0.0.1:8080") == "http://127.0.0.1:8080/.well-known/lnurlp/op"
    settings.REFERRAL_ALLOW_HTTP = True
    assert referral.lnurlp_url("op@wallet.test") == "http://wallet.test/.well-known/lnurlp/op"


# --- manage.py sms4sats_check -------------------------------------------------------------------------


def test_check_command_says_the_address_resolves(sandbox_url, settings, lnurl_server):
    settings.SMS4SATS_REF = f"good@{lnurl_server.domain}"
    out = StringIO()
    call_command("sms4sats_check", stdout=out, no_color=True)
    assert out.getvalue().splitlines()[-1] == (
        f"referral address good@{lnurl_server.domain}: OK (a pay request for 1 to 100,000 sats)"
    )


def test_check_command_fails_on_an_address_that_does_not_resolve(sandbox_url, settings, lnurl_server):
    settings.SMS4SATS_REF = f"wrongtag@{lnurl_server.domain}"
    out = StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("sms4sats_check", stdout=out, no_color=True)
    assert info.value.code == 1
    assert "availability: OK" in out.getvalue()  # the upstream's checks still ran
    assert out.getvalue().splitlines()[-1].startswith(f"referral address wrongtag@{lnurl_server.domain}: FAILED (not")


def test_check_command_without_an_address(sandbox_url, settings):
    settings.SMS4SATS_REF = None
    out = StringIO()
    call_command("sms4sats_check", stdout=out, no_color=True)
    assert out.getvalue().splitlines()[-1] == "referral address: skipped (SMS4SATS_REF is not set)"


# --- The periodic check and the dashboard ---------------------------------------------------------------


def test_the_periodic_check_alerts_when_it_stops_and_when_it_resolves_again(settings, db, lnurl_server):
    with LocalHttpServer() as receiver:
        settings.ALERT_URLS = f"json://127.0.0.1:{receiver.port}/alerts"
        settings.SMS4SATS_REF = f"good@{lnurl_server.domain}"
        assert checks.check_referral() is None  # resolving from the start: nothing to say
        assert referral.last_result().ok

        lnurl_server.routes.pop("/.well-known/lnurlp/good")  # the wallet forgets the name
        assert checks.check_referral() == Event.REFERRAL_BROKEN
        assert checks.check_referral() is None  # still broken: no second alert
        assert not referral.last_result().ok and "404" in referral.last_result().detail

        lnurl_server.routes["/.well-known/lnurlp/good"] = answer(PAY_REQUEST)
        assert checks.check_referral() == Event.REFERRAL_OK
        broken = AlertLog.objects.get(event=Event.REFERRAL_BROKEN)
        assert broken.title == f"Your referral address good@{lnurl_server.domain} does not resolve"


def test_a_stored_result_is_only_for_the_configured_address(settings, db, lnurl_server):
    settings.SMS4SATS_REF = f"good@{lnurl_server.domain}"
    checks.check_referral()
    settings.SMS4SATS_REF = f"other@{lnurl_server.domain}"
    assert referral.last_result() is None


def test_the_dashboard_shows_a_red_card_from_the_last_check(admin_client, settings, lnurl_server):
    settings.SMS4SATS_REF = f"missing@{lnurl_server.domain}"
    url = reverse("admin:dashboard")

    page = admin_client.get(url).content.decode()
    assert 'id="referral-state"' in page and "not checked yet" in page

    referral.check_and_store()
    requests_before = len(lnurl_server.gets)
    page = admin_client.get(url).content.decode()
    assert len(lnurl_server.gets) == requests_before  # the page reads the stored result, it asks nobody
    card = referral_card(page)
    assert "shop-card-bad" in card and "does not resolve" in card and "HTTP 404" in card

    settings.SMS4SATS_REF = f"good@{lnurl_server.domain}"
    referral.check_and_store()
    card = referral_card(admin_client.get(url).content.decode())
    assert "shop-card-bad" not in card and "resolves" in card and "1 to 100,000 sats" in card


def referral_card(page):
    start = page.rindex("<div", 0, page.index('id="referral-state"'))
    return page[start : page.index("</div>\n", page.index('class="note"', start)) + 6]


def test_no_card_without_an_address(admin_client, settings):
    settings.SMS4SATS_REF = None
    assert 'id="referral-state"' not in admin_client.get(reverse("admin:dashboard")).content.decode()
