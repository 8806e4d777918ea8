"""Fiat equivalents beside the sats: the rates a worker fetches, and the currency a buyer sees.

The rates come from ``FIAT_RATES_URL`` in the blockchain.info ticker format (``{"USD": {"last": 97000.5, …},
…}``: the price of one bitcoin per currency). Only the worker task fetches them (every
``FIAT_RATES_REFRESH_SECONDS``); pages read the last good rates from the cache and show nothing when they are
older than ``FIAT_RATES_MAX_AGE`` or absent. A failed or malformed fetch is logged and keeps the last good
rates until they age out.
"""

import json
import logging
import math
import time
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation.trans_real import parse_accept_lang_header

from shopsettings import runtime
from sms4sats_site import outbound

log = logging.getLogger(__name__)

CACHE_KEY = "fiat-rates"
COOKIE = "shop_currency"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
SATS_PER_BTC = Decimal(100_000_000)
MAX_BODY_BYTES = 1_000_000  # the real ticker is about 3 kB
ZERO_DECIMAL = {"JPY", "KRW", "CLP", "ISK"}  # currencies shown without cents
FALLBACK = "USD"

# The buyer's default currency: from the region of their language (en-GB, pt-BR, de-AT), else the language.
REGION_CURRENCY = {
    "US": "USD", "GB": "GBP", "BR": "BRL", "RU": "RUB", "CH": "CHF", "CA": "CAD", "AU": "AUD", "NZ": "NZD",
    "JP": "JPY", "KR": "KRW", "CN": "CNY", "HK": "HKD", "TW": "TWD", "SG": "SGD", "TH": "THB", "IN": "INR",
    "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RO": "RON", "SE": "SEK", "DK": "DKK", "IS": "ISK", "TR": "TRY",
    "AR": "ARS", "CL": "CLP", "MX": "MXN",
    **dict.fromkeys(
        ["AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT",
         "SI", "SK"],
        "EUR",
    ),
}  # fmt: skip
LANGUAGE_CURRENCY = {
    "en": "USD", "es": "EUR", "de": "EUR", "fr": "EUR", "it": "EUR", "nl": "EUR", "pt": "EUR", "ru": "RUB",
    "ja": "JPY", "ko": "KRW", "zh": "CNY", "pl": "PLN", "cs": "CZK", "hu": "HUF", "sv": "SEK", "da": "DKK",
    "tr": "TRY",
}  # fmt: skip


class RatesError(Exception):
    """The rates source answered nothing usable (the reason is logged; the last good rates stay)."""


# The worker's side ------------------------------------------------------------------------------------------


def parse_ticker(body, currencies):
    """The price of one bitcoin in each of ``currencies`` from a ticker answer, as Decimals.

    A currency whose entry is missing or not a positive finite number is left out (and logged); RatesError
    when the answer is not a JSON object or has no usable rate at all."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RatesError(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RatesError(f"expected a JSON object of currencies, got {type(data).__name__}")
    rates = {}
    for code in currencies:
        entry = data.get(code)
        last = entry.get("last") if isinstance(entry, dict) else None
        if isinstance(last, bool) or not isinstance(last, int | float) or not math.isfinite(last) or last <= 0:
            log.warning("fiat rates: ignoring %s: expected a positive price in 'last', got %r", code, entry)
            continue
        rates[code] = Decimal(str(last))
    if not rates:
        raise RatesError(f"no usable rate for any of {', '.join(currencies)}")
    return rates


def fetch_rates(url=None):
    """One GET of the rates source (over by FIAT_RATES_TIMEOUT, at most MAX_BODY_BYTES), parsed. The URL is the
    operator's: an internal address is refused unless allowed (OUTBOUND_ALLOWED_NETWORKS)."""
    url = url or settings.FIAT_RATES_URL
    try:
        answer = outbound.get(url, timeout=settings.FIAT_RATES_TIMEOUT, max_bytes=MAX_BODY_BYTES, user_target=True)
    except outbound.OutboundError as exc:
        raise RatesError(exc.reason) from exc
    if answer.status_code != 200:
        raise RatesError(f"HTTP {answer.status_code}")
    return parse_ticker(answer.body, runtime.get("FIAT_CURRENCIES"))


def refresh_rates():
    """Fetch and cache the rates (the worker task). True when fresh rates were stored; on any failure the
    reason is logged and the last good rates stay until they are older than FIAT_RATES_MAX_AGE."""
    if not settings.FIAT_RATES_URL:
        return False
    try:
        rates = fetch_rates()
    except RatesError as exc:
        log.warning("fiat rates: %s answered nothing usable: %s", settings.FIAT_RATES_URL, exc)
        return False
    entry = {"fetched_at": time.time(), "rates": {code: str(rate) for code, rate in rates.items()}}
    try:
        cache.set(CACHE_KEY, entry, settings.FIAT_RATES_MAX_AGE)
    except Exception:  # noqa: BLE001 - Redis restarting: the next refresh stores them
        log.warning("fiat rates: cache write failed", exc_info=True)
        return False
    return True


# The pages' side (no fetch here: the cache or nothing) ------------------------------------------------------


def current_rates(now=None):
    """The cached rates {currency: Decimal price of one BTC} while younger than FIAT_RATES_MAX_AGE, else {}."""
    if not settings.FIAT_RATES_URL:
        return {}
    try:
        entry = cache.get(CACHE_KEY)
    except Exception:  # noqa: BLE001 - Redis away: no fiat, the sats are still shown
        log.warning("fiat rates: cache read failed", exc_info=True)
        return {}
    if not isinstance(entry, dict) or not isinstance(entry.get("fetched_at"), float):
        return {}
    if (now or time.time()) - entry["fetched_at"] > settings.FIAT_RATES_MAX_AGE:
        return {}
    return {code: Decimal(rate) for code, rate in entry["rates"].items() if code in runtime.get("FIAT_CURRENCIES")}


def rate_at_payment():
    """The fields an order stores when it is paid: the books' currency (the first of FIAT_CURRENCIES with a fresh
    rate) and one bitcoin's price in it, for the CSV's fiat value at the time of payment. Empty without a rate."""
    rates = current_rates()
    for code in runtime.get("FIAT_CURRENCIES"):
        if code in rates:
            return {"fiat_currency": code, "fiat_rate": rates[code]}
    return {}


def fiat_value(sats, order):
    """``sats`` in the order's stored currency at its stored rate, as a Decimal to the cent (or whole units), or
    None when the order stored no rate."""
    if order.fiat_rate is None or sats is None:
        return None
    places = 0 if order.fiat_currency in ZERO_DECIMAL else 2
    return (Decimal(sats) * order.fiat_rate / SATS_PER_BTC).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def default_currency(request):
    """The currency of the buyer's language: the active one (LocaleMiddleware's ``LANGUAGE_CODE``, else the one
    the browser asks for), in the region the browser names for it (pt-PT is not pt-BR), else the language's own
    region (a buyer who chose pt-br), else the language's usual currency."""
    language = (getattr(request, "LANGUAGE_CODE", None) or translation.get_language_from_request(request)).lower()
    primary, _, region = language.partition("-")
    for tag, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        tag_primary, _, tag_region = tag.lower().partition("-")
        if tag_primary == primary and len(tag_region) == 2:
            region = tag_region
            break
    if region:
        return REGION_CURRENCY.get(region.upper(), FALLBACK)
    return LANGUAGE_CURRENCY.get(primary, FALLBACK)


def buyer_currency(request, rates):
    """The currency to show: the buyer's choice (cookie), else their language's, else USD, else the first
    offered; only one with a current rate. None when there is none."""
    offered = [code for code in runtime.get("FIAT_CURRENCIES") if code in rates]
    for candidate in (request.COOKIES.get(COOKIE, "").upper(), default_currency(request), FALLBACK):
        if candidate in offered:
            return candidate
    return offered[0] if offered else None


def equivalent(sats, rate, currency):
    """``sats`` in ``currency`` at ``rate`` (one BTC's price), formatted for the active language; and whether it
    is below the smallest amount shown (then the amount is that smallest one)."""
    places = 0 if currency in ZERO_DECIMAL else 2
    step = Decimal(1).scaleb(-places)
    value = (Decimal(sats) * rate / SATS_PER_BTC).quantize(step, rounding=ROUND_HALF_UP)
    below = value < step
    shown = step if below else value
    return number_format(shown, decimal_pos=places, use_l10n=True, force_grouping=True), below


def for_request(request, sats):
    """{"amount", "currency", "below"} for ``sats`` on this buyer's page, or None (no fresh rate, no amount).
    The rates and the currency are read once per request."""
    if not sats or request is None:
        return None
    if not hasattr(request, "_fiat"):
        rates = current_rates()
        request._fiat = (rates, buyer_currency(request, rates))
    rates, currency = request._fiat
    if currency is None:
        return None
    try:
        amount, below = equivalent(int(sats), rates[currency], currency)
    except (TypeError, ValueError):
        return None
    return {"amount": amount, "currency": currency, "below": below}
