"""The sandbox's catalog: countries (from orders/data/sms4sats-countries.json), services, prices.

Everything is deterministic (derived from sha256 of the inputs), so the same country and service always
get the same price and count, and the invoice amount matches what /price quoted.
"""

import json
from functools import cache
from hashlib import sha256
from pathlib import Path

from django.conf import settings

COUNTRIES_FILE = Path(settings.BASE_DIR) / "orders" / "data" / "sms4sats-countries.json"
AUTO_SELECT = 999

SEND_PRICE = 3000  # /price "send": one SMS, any destination
S4S_FEE = "4000"  # /price "s4s" (a string, as in the contract's example)
MAGIC_SERVICE_PRICE = 1000

# (code, display name, extra long names accepted by /price and /createorder)
SERVICES = [
    ("tg", "Telegram", ["telegram"]),
    ("wa", "WhatsApp", ["whatsapp"]),
    ("go", "Google,youtube,Gmail", ["google", "gmail", "youtube"]),
    ("ot", "Any other", ["other", "any"]),
    ("oi", "Tinder", ["tinder"]),
    ("vk", "VKontakte", ["vkontakte"]),
    ("fb", "Facebook", ["facebook"]),
    ("ig", "Instagram+Threads", ["instagram", "threads"]),
    ("tw", "Twitter", ["twitter", "x"]),
    ("ds", "Discord", ["discord"]),
    ("dr", "openAI", ["openai", "chatgpt"]),
    ("acz", "Claude", ["claude", "anthropic"]),
    ("mm", "Microsoft", ["microsoft", "outlook"]),
    ("am", "Amazon", ["amazon"]),
    ("ub", "Uber", ["uber"]),
    ("ts", "PayPal", ["paypal"]),
    ("wb", "WeChat", ["wechat"]),
    ("me", "Line messenger", ["line"]),
    ("tn", "LinkedIn", ["linkedin"]),
    ("nf", "Netflix", ["netflix"]),
    ("lf", "TikTok/Douyin", ["tiktok", "douyin"]),
    ("ya", "Yandex", ["yandex"]),
    ("mt", "Steam", ["steam"]),
    ("vi", "Viber", ["viber"]),
    ("bw", "Signal", ["signal"]),
    ("hw", "Alipay/Alibaba/1688", ["alipay", "alibaba"]),
    ("sn", "OLX", ["olx"]),
    # Sandbox scenarios a tester can pick in the shop (see the sandbox module docstring).
    ("nonumber", "Sandbox: no number available", []),
    ("nocode", "Sandbox: code never arrives", []),
]
MAGIC_SERVICES = {"nonumber": "no_number", "nocode": "no_code"}
RENTAL_SERVICE = ("full", "Full rent", ["fullrent"])  # the rental-only service of /getRentalCountries

# A few ISO codes, for /price?country=us and friends.
ISO_CODES = {
    "us": 187, "gb": 16, "uk": 16, "de": 43, "ru": 0, "ua": 1, "kz": 2, "cn": 3, "ph": 4, "id": 6, "my": 7,
    "ke": 8, "vn": 10, "il": 13, "hk": 14, "pl": 15, "ng": 19, "eg": 21, "in": 22, "ie": 23, "za": 31,
    "ro": 32, "co": 33, "ee": 34, "ca": 36, "ar": 39, "lt": 44, "se": 46, "nl": 48, "lv": 49, "at": 50,
    "th": 52, "sa": 53, "mx": 54, "tw": 55, "es": 56, "tr": 62, "cz": 63, "br": 73, "fr": 78, "be": 82,
    "bg": 83, "hu": 84, "it": 86, "ae": 95, "pt": 117, "ge": 128, "gr": 129, "cl": 151, "fi": 163,
    "ch": 173, "no": 174, "au": 175, "kr": 190, "sg": 196,
}  # fmt: skip
# Dialing prefixes for the simulated phone numbers (digits only, as /orderstatus "number").
DIAL_PREFIX = {187: "1", 12: "1", 36: "1", 16: "44", 43: "49", 0: "7", 2: "7", 1: "380", 3: "86", 4: "63",
               6: "62", 7: "60", 8: "254", 10: "84", 13: "972", 15: "48", 19: "234", 22: "91", 48: "31",
               56: "34", 62: "90", 73: "55", 78: "33", 86: "39", 175: "61", 196: "65"}  # fmt: skip
# Where Auto-Select lands (the order's number comes from one of these, chosen per order).
AUTO_SELECT_POOL = [6, 22, 16, 187, 43, 4]
# Countries that offer rentals (/getRentalCountries, /getCountries "rent": 1).
RENTAL_CANDIDATES = [6, 16, 187, 43, 0, 1, 22, 15, 32, 78, 86, 56, 48, 46, 36, 73]


def stable_hash(*parts):
    return int.from_bytes(sha256(":".join(str(p) for p in parts).encode()).digest()[:8], "big")


@cache
def _country_rows():
    return json.loads(COUNTRIES_FILE.read_text())


@cache
def country_names():
    """{cc: display name}: the first name the data file gives each cc (Russia, England, USA)."""
    names = {}
    for row in _country_rows():
        names.setdefault(int(row["cc"]), row["country"])
    return names


@cache
def _country_lookup():
    lookup = {row["country"].lower().replace(" ", ""): int(row["cc"]) for row in _country_rows()}
    lookup.update(ISO_CODES)
    return lookup


def resolve_country(value):
    """A cc from a number, a numeric string, a name ("germany", "United Kingdom") or an ISO code ("us").
    None when unknown."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if value != int(value):
            return None
        value = int(value)
        return value if value in country_names() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return resolve_country(int(text))
    return _country_lookup().get(text.lower().replace(" ", ""))


@cache
def _service_lookup():
    lookup = {}
    for code, name, aliases in [*SERVICES, RENTAL_SERVICE]:
        for key in [code, name, *aliases]:
            lookup.setdefault(key.lower(), code)
    return lookup


def resolve_service(value):
    """A service code from a short code ("tg") or a long name ("google", "other"). None when unknown."""
    if not isinstance(value, str):
        return None
    return _service_lookup().get(value.strip().lower())


def service_name(code):
    for c, name, _ in [*SERVICES, RENTAL_SERVICE]:
        if c == code:
            return name
    return code


def services_for(cc):
    """The /getnumbersstatus list for a country: counts differ per country but never change."""
    items = []
    for code, name, _ in SERVICES:
        count = 1 if code in MAGIC_SERVICES else 20 + stable_hash("count", cc, code) % 4980
        items.append(
            {
                "key": code,
                "text": name,
                "value": code,
                "count": str(count),
                "image": {"avatar": True, "src": f"assets/img/services/{code}.webp"},
            }
        )
    return items


def receive_price(cc, service):
    """Sats to receive one code for this country and service (1000..5900)."""
    if service in MAGIC_SERVICES:
        return MAGIC_SERVICE_PRICE
    return 1000 + (stable_hash("receive", cc, service) % 50) * 100


def rental_price(cc):
    """Sats to rent a number in this country (1000..5999; the same for every rental service)."""
    return 1000 + stable_hash("rent", cc) % 5000


def rental_countries(service="full"):
    """The /getRentalCountries list. "full" rents in every rental country; a single service in most."""
    rows = []
    for cc in RENTAL_CANDIDATES:
        if service != "full" and stable_hash("rental", cc, service) % 4 == 0:
            continue
        rows.append(
            {
                "cc": cc,
                "country": country_names()[cc],
                "duration": str(1 + stable_hash("weeks", cc) % 4),
                "price": rental_price(cc),
            }
        )
    return rows


def countries():
    """The /getCountries list: one entry per cc, Auto-Select first."""
    names = country_names()
    ordered = [AUTO_SELECT] + [cc for cc in names if cc != AUTO_SELECT]
    return [{"id": cc, "eng": names[cc], "visible": 1, "rent": int(cc in RENTAL_CANDIDATES)} for cc in ordered]


def price_quote(country_raw, service_raw):
    """The /price body. Raises ValueError(reason) for an unknown country or service."""
    if country_raw is None and service_raw is None:
        # Generic: the cheapest receive and rental prices (same top-level fields, no query/computed).
        return {
            "receive": str(1000),
            "send": SEND_PRICE,
            "rent": min(rental_price(cc) for cc in RENTAL_CANDIDATES),
            "s4s": S4S_FEE,
        }
    cc = resolve_country(country_raw if country_raw is not None else AUTO_SELECT)
    if cc is None:
        raise ValueError(f"unknown country: {country_raw}")
    service = resolve_service(service_raw if service_raw is not None else "ot")
    if service is None or service == RENTAL_SERVICE[0]:
        raise ValueError(f"unknown service: {service_raw}")
    price = receive_price(cc, service)
    query = {k: v for k, v in (("country", country_raw), ("service", service_raw)) if v is not None}
    return {
        "receive": str(price),
        "send": SEND_PRICE,
        "rent": rental_price(cc),
        "s4s": S4S_FEE,
        "query": query,
        "computed": {"price": price, "country": cc, "description": f"sms4sats payment {country_names()[cc]} {service}"},
    }
