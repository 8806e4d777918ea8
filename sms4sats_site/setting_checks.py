"""The checks of the settings an operator may also set in the admin (shopsettings/): one function per setting,
used by settings.py on the environment's value and by the admin's settings page on the typed one, so both
refuse the same values with the same one line.

Each takes the raw text (as an environment variable holds it, never blank: blank means "not set") and returns
the value the shop uses, or raises ValueError whose message is the problem (settings.py prefixes
"Configuration error: NAME:"; the page shows it next to the field). No Django import: settings.py uses it.
"""

import re
from urllib.parse import urlsplit

DEFAULT_FIAT_CURRENCIES = ["USD", "EUR", "GBP", "BRL", "RUB", "CHF", "CAD", "AUD", "JPY"]


def parse_bool(raw):
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false, 1/0, on/off), got {raw!r}")


def parse_int(raw):
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None


def parse_url(raw, schemes=("http", "https")):
    raw = raw.strip()
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"expected an {'/'.join(schemes)} URL, got {raw!r}")
    return raw.rstrip("/")


def one_line(raw, limit=200):
    value = raw.strip()
    if "\n" in value or "\r" in value:
        raise ValueError("expected one line of text")
    if len(value) > limit:
        raise ValueError(f"expected at most {limit} characters, got {len(value)}")
    return value


def referral_address(raw):
    value = raw.strip()
    if "@" not in value:
        raise ValueError(f"expected a Lightning Address like name@domain, got {value!r}")
    return value


def metrics_token(raw):
    value = raw.strip()
    if len(value) < 16:
        raise ValueError("too short: use at least 16 random characters (e.g. secrets.token_urlsafe(32) in Python)")
    return value


def fiat_currencies(raw):
    codes = [item.strip() for item in raw.split(",") if item.strip()]
    for code in codes:
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError(f"expected ISO 4217 codes like USD,EUR,BRL, got {code!r}")
    return codes or list(DEFAULT_FIAT_CURRENCIES)


def at_least_zero(raw):
    value = parse_int(raw)
    if value < 0:
        raise ValueError(f"expected 0 (off) or more, got {value}")
    return value


def hour_of_day(raw):
    value = parse_int(raw)
    if not 0 <= value <= 23:
        raise ValueError(f"expected an hour from 0 to 23, got {value}")
    return value


def text(raw):
    return raw.strip()


def shop_name(raw):
    return one_line(raw, 60)


def shop_contact(raw):
    """An e-mail address, a Telegram @handle or t.me link, a Matrix @user:server, a Nostr npub or an http(s) URL."""
    from .shop_identity import parse_contact  # no Django import there either

    text = one_line(raw)
    parse_contact(text)  # raises ValueError with the one line
    return text


# Every setting the admin's settings page edits, with its check (the page's labels are in shopsettings/fields.py).
CHECKS = {
    "SMS4SATS_REF": referral_address,
    "SMS4SATS_API_KEY": text,
    "ALERT_URLS": text,
    "ALERT_REFUNDS_PER_HOUR": at_least_zero,
    "ALERT_BALANCE_MIN_SATS": at_least_zero,
    "ALERT_DAILY_SUMMARY": parse_bool,
    "ALERT_DAILY_SUMMARY_HOUR": hour_of_day,
    "SHOP_NAME": shop_name,
    "SHOP_CONTACT": shop_contact,
    "SHOP_TERMS_URL": parse_url,
    "METRICS_TOKEN": metrics_token,
    "FIAT_CURRENCIES": fiat_currencies,
}
