"""The fiat rates: parsing the ticker, the worker's fetch against a real local HTTP server (good, broken,
slow answers), their age, the sandbox's ticker and the settings."""

import json
import logging
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import translation

from orders import fiat
from orders.tasks import refresh_fiat_rates
from sms4sats_site.settings import BASE_DIR
from tests.local_servers import LocalHttpServer
from tests.test_settings import start

TICKER = {
    "USD": {"15m": 97123.45, "last": 97123.45, "buy": 97123.45, "sell": 97123.45, "symbol": "$"},
    "EUR": {"15m": 90000, "last": 90000, "buy": 90000, "sell": 90000, "symbol": "€"},
    "BRL": {"15m": 530000.5, "last": 530000.5, "buy": 530000.5, "sell": 530000.5, "symbol": "R$"},
    "XYZ": {"last": 1.0},  # a currency the shop does not offer
}
OFFERED = ["USD", "EUR", "GBP", "BRL"]


# Parsing ----------------------------------------------------------------------------------------------------


def test_a_good_ticker_gives_the_offered_currencies_that_it_has():
    rates = fiat.parse_ticker(json.dumps(TICKER), OFFERED)
    assert rates == {"USD": Decimal("97123.45"), "EUR": Decimal("90000"), "BRL": Decimal("530000.5")}


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<html>Service Unavailable</html>",
        "[1, 2, 3]",
        '"USD"',
        b"\xff\xfe not utf-8",
        "{}",  # no currency at all
        '{"USD": 97000}',  # not an object per currency
        '{"USD": {"last": -97000}}',
        '{"USD": {"last": 0}}',
        '{"USD": {"last": "97000"}}',
        '{"USD": {"last": true}}',
        '{"USD": {"last": NaN}}',
        '{"USD": {"last": Infinity}}',
        '{"USD": {"price": 97000}}',
    ],
)
def test_a_malformed_ticker_is_refused(body):
    with pytest.raises(fiat.RatesError):
        fiat.parse_ticker(body, OFFERED)


def test_one_bad_currency_is_left_out_and_logged(caplog):
    body = json.dumps({**TICKER, "EUR": {"last": -1}})
    with caplog.at_level(logging.WARNING, logger="orders.fiat"):
        rates = fiat.parse_ticker(body, OFFERED)
    assert set(rates) == {"USD", "BRL"}
    assert "ignoring EUR" in caplog.text


def test_the_equivalent_is_rounded_and_formatted_for_the_language():
    assert fiat.equivalent(1234, Decimal("100000"), "USD") == ("1.23", False)
    assert fiat.equivalent(1_234_567_890, Decimal("100000"), "USD") == ("1,234,567.89", False)
    assert fiat.equivalent(5, Decimal("100000"), "USD") == ("0.01", False)  # 0.005 rounds half up
    assert fiat.equivalent(4, Decimal("100000"), "USD") == ("0.01", True)  # below a cent: "< 0.01"
    assert fiat.equivalent(12345, Decimal("15000000"), "JPY") == ("1,852", False)  # no cents in yen
    with translation.override("de"):
        assert fiat.equivalent(1_234_567_890, Decimal("100000"), "EUR") == ("1.234.567,89", False)
    with translation.override("ru"):
        assert fiat.equivalent(1_234_567, Decimal("8000000"), "RUB")[0] == "98\xa0765,36"


# Age --------------------------------------------------------------------------------------------------------


def test_rates_are_shown_only_while_younger_than_the_limit(settings):
    settings.FIAT_RATES_MAX_AGE = 600
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time() - 599, "rates": {"USD": "97000"}})
    assert fiat.current_rates() == {"USD": Decimal("97000")}
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time() - 601, "rates": {"USD": "97000"}})
    assert fiat.current_rates() == {}
    cache.delete(fiat.CACHE_KEY)
    assert fiat.current_rates() == {}


def test_no_rates_when_fiat_is_off(settings):
    cache.set(fiat.CACHE_KEY, {"fetched_at": time.time(), "rates": {"USD": "97000"}})
    settings.FIAT_RATES_URL = ""
    assert fiat.current_rates() == {}
    assert fiat.refresh_rates() is False


def test_no_rates_and_no_error_while_redis_is_down(redis_down):
    assert fiat.current_rates() == {}


# The worker's fetch, against a real HTTP server -------------------------------------------------------------


@pytest.fixture
def rates_server(settings):
    with LocalHttpServer(routes={"/ticker": (200, json.dumps(TICKER).encode())}, path="/ticker") as server:
        settings.FIAT_RATES_URL = server.url
        settings.FIAT_CURRENCIES = OFFERED
        settings.FIAT_RATES_TIMEOUT = 1
        yield server


def test_the_task_fetches_and_caches_the_rates(rates_server):
    refresh_fiat_rates.apply()
    assert fiat.current_rates() == {"USD": Decimal("97123.45"), "EUR": Decimal("90000"), "BRL": Decimal("530000.5")}
    path, headers, _ = rates_server.gets[-1]
    assert path == "/ticker"
    assert "Cookie" not in headers and "X-Forwarded-For" not in headers  # the source sees the shop, no buyer


@pytest.mark.parametrize(
    "answer, logged",
    [
        ((500, b'{"error": "down"}', 0), "HTTP 500"),
        ((200, b"<html>maintenance</html>", 0), "not JSON"),
        ((200, b'{"USD": {"last": -5}}', 0), "no usable rate"),
        ((200, b"{}", 2), "timed out"),
        ((200, b" " * (fiat.MAX_BODY_BYTES + 1), 0), "larger than"),
    ],
)
def test_a_failed_fetch_keeps_the_last_good_rates_and_is_logged(rates_server, answer, logged, caplog):
    assert fiat.refresh_rates() is True
    good = fiat.current_rates()
    rates_server.routes["/ticker"] = answer
    with caplog.at_level(logging.WARNING, logger="orders.fiat"):
        assert fiat.refresh_rates() is False
    assert logged in caplog.text
    assert fiat.current_rates() == good


def test_the_last_good_rates_age_out_when_fetches_keep_failing(rates_server, settings):
    assert fiat.refresh_rates() is True
    rates_server.routes["/ticker"] = (503, b"", 0)
    assert fiat.refresh_rates() is False
    assert fiat.current_rates(now=time.time() + settings.FIAT_RATES_MAX_AGE + 1) == {}


def test_the_task_retries_soon_only_while_no_rates_are_known(rates_server):
    from orders.tasks import FIAT_START_RETRIES

    rates_server.routes["/ticker"] = (503, b"", 0)
    refresh_fiat_rates.apply()  # eager: the retries run at once
    assert len(rates_server.gets) == 1 + FIAT_START_RETRIES
    rates_server.routes["/ticker"] = (200, json.dumps(TICKER).encode(), 0)
    refresh_fiat_rates.apply()
    rates_server.routes["/ticker"] = (503, b"", 0)
    refresh_fiat_rates.apply()  # good rates are kept: the next scheduled refresh tries again
    assert len(rates_server.gets) == 1 + FIAT_START_RETRIES + 2
    assert fiat.current_rates()["EUR"] == Decimal("90000")


def test_an_unreachable_source_is_logged_not_raised(settings, caplog):
    from tests.fake_upstream import unreachable_url

    settings.FIAT_RATES_URL = unreachable_url() + "/ticker"
    with caplog.at_level(logging.WARNING, logger="orders.fiat"):
        assert fiat.refresh_rates() is False
    assert "ConnectError" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_refreshes_the_rates_on_the_normal_queue(rates_server, celery_worker, settings):
    assert "refresh_fiat_rates" not in str(settings.CELERY_TASK_ROUTES)  # not on the creation queue
    schedule = settings.CELERY_BEAT_SCHEDULE["refresh-fiat-rates"]
    assert schedule["task"] == "orders.tasks.refresh_fiat_rates"
    assert schedule["schedule"] == settings.FIAT_RATES_REFRESH_SECONDS
    refresh_fiat_rates.delay()
    deadline = time.monotonic() + 15
    while not fiat.current_rates() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fiat.current_rates()["USD"] == Decimal("97123.45")


# The sandbox's ticker ---------------------------------------------------------------------------------------


def test_the_sandbox_serves_rates_in_the_default_sources_format(live_server, settings):
    settings.FIAT_RATES_URL = live_server.url + settings.FIAT_RATES_PATH
    assert fiat.refresh_rates() is True
    rates = fiat.current_rates()
    assert set(rates) == set(settings.FIAT_CURRENCIES)
    assert rates["USD"] == Decimal("100000")


# Settings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"FIAT_RATES_URL": "blockchain.info/ticker"}, "FIAT_RATES_URL"),
        ({"FIAT_CURRENCIES": "USD,euro"}, "FIAT_CURRENCIES"),
        ({"FIAT_RATES_REFRESH_SECONDS": "often"}, "FIAT_RATES_REFRESH_SECONDS"),
        ({"FIAT_RATES_REFRESH_SECONDS": "1"}, "FIAT_RATES_REFRESH_SECONDS"),
        ({"FIAT_RATES_MAX_AGE": "60"}, "FIAT_RATES_MAX_AGE"),  # not longer than the refresh interval
    ],
)
def test_a_bad_fiat_setting_fails_in_one_line_naming_it(overrides, variable):
    result = start(overrides)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"Configuration error: {variable}:"), result.stderr


def fiat_settings(env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.FIAT_RATES_URL, s.FIAT_CURRENCIES, s.FIAT_RATES_MAX_AGE,"
        " s.CELERY_BEAT_SCHEDULE.get('refresh-fiat-rates', {}).get('schedule')]))"
    )
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("FIAT_") and k not in ("SANDBOX", "PUBLIC_BASE_URL")
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_default_source_is_the_sandboxs_ticker_in_sandbox_mode_else_blockchain_info():
    assert fiat_settings({"SHOP_BIND": "127.0.0.1:8123"})[0] == "http://127.0.0.1:8123/sandbox/ticker"
    production = {"SMS4SATS_API_URL": "https://api2.sms4sats.com", "SECRET_KEY": "x" * 50}
    url, currencies, max_age, every = fiat_settings(production)
    assert (url, max_age, every) == ("https://blockchain.info/ticker", 1800, 300.0)
    assert currencies[:5] == ["USD", "EUR", "GBP", "BRL", "RUB"]
    operator = {"FIAT_RATES_URL": "https://rates.example/ticker", "FIAT_CURRENCIES": "eur, CHF".upper()}
    assert fiat_settings({**production, **operator, "FIAT_RATES_REFRESH_SECONDS": "60"}) == [
        "https://rates.example/ticker",
        ["EUR", "CHF"],
        1800,
        60.0,
    ]


def test_an_empty_source_turns_fiat_off():
    assert fiat_settings({"FIAT_RATES_URL": "", "FIAT_CURRENCIES": ""}) == [  # empty: the default list
        "",
        ["USD", "EUR", "GBP", "BRL", "RUB", "CHF", "CAD", "AUD", "JPY"],
        1800,
        None,
    ]
