"""What a buyer may type to find a country in the picker: its name in every language the shop speaks (CLDR,
orders/countries.py), every name sms4sats gives it, readable and common names (aliases, some by language:
США, EEUU, EUA, Großbritannien), and short forms such as ISO codes (UK, US, DE). The options are labelled and
sorted in the buyer's language.

The ranking itself happens in the browser (static/shop.js, "Filter boxes"): an exact name or code first,
then names that start with the text, then a word that does, then the text anywhere. The search never picks
an option on its own unless exactly one option is the best match, and never changes the selection when
nothing matches. Services are searched by their name and code the same way (no extra data needed).

After a failed number, "Try again" opens the picker with the same country and service, and
``best_country_for`` suggests the country where that service's codes arrived most often in the shop's own
recent orders.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

from django.db.models import Count, Max, Q
from django.utils import timezone

from orders import countries
from orders.catalog import bundled_country_rows
from orders.models import DECIDED_STATUSES, Kind, Order, Status
from orders.sms4sats import AUTO_SELECT

DATA = Path(__file__).resolve().parent / "data"
SEPARATOR = "|"  # between the names in a data attribute; no country name contains it


@dataclass(frozen=True)
class CountryChoice:
    cc: int
    name: str  # in the buyer's language (sms4sats' name when it has no ISO code): the option's label
    search_names: str  # every name, the label first, SEPARATOR-joined
    search_codes: str  # short forms matched only exactly, SEPARATOR-joined


@cache
def _terms():
    """{cc: (names, codes)}: the CLDR names in every shop language, the bundled list's names, the aliases
    (also those by language) and the short forms (the ISO code included)."""
    names, codes = {}, {}
    for row in bundled_country_rows():
        names.setdefault(int(row["cc"]), []).append(row["country"])
    aliases = json.loads((DATA / "country-aliases.json").read_text())
    for cc, extra in aliases.items():
        if cc.isdigit():
            names.setdefault(int(cc), []).extend(extra["names"])
            codes.setdefault(int(cc), []).extend(extra["codes"])
    for by_cc in aliases["_by_language"].values():
        for cc, extra in by_cc.items():
            names.setdefault(int(cc), []).extend(extra)
    for cc, iso in countries.iso_codes().items():
        names[cc] = countries.names_in_every_language(cc) + names.get(cc, [])
        codes[cc] = [iso, *codes.get(cc, [])]
    return {
        cc: (tuple(dict.fromkeys(names.get(cc, ()))), tuple(dict.fromkeys(codes.get(cc, ()))))
        for cc in names.keys() | codes.keys()
    }


def country_choices(entries):
    """The picker's options for catalog ``entries`` (CountryEntry), labelled and sorted in the buyer's
    language (Auto-Select first), with their search terms."""
    terms = _terms()
    choices = []
    for country in entries:
        label = countries.country_name(country.cc, country.name)
        found, codes = terms.get(country.cc, ((), ()))
        every = list(dict.fromkeys([label, country.name, *found]))
        choices.append(CountryChoice(country.cc, label, SEPARATOR.join(every), SEPARATOR.join(codes)))
    auto = [c for c in choices if c.cc == AUTO_SELECT]
    return auto + countries.sort_by_name([c for c in choices if c.cc != AUTO_SELECT])


# After a failed number: the country where this service's codes arrived most often lately ----------------

SUGGEST_DAYS = 7
SUGGEST_MIN_ORDERS = 10  # finished orders in a country before its rate means anything
SUGGEST_MIN_RATE = 0.5


@dataclass(frozen=True)
class Suggestion:
    cc: int
    name: str  # in the buyer's language
    codes: int  # orders that got their code
    orders: int  # finished orders (a code, or refunded)


def best_country_for(service_code, instead_of, now=None):
    """The country whose numbers got this service's code most often in the shop's own recent orders, when
    that is known from enough orders and beats ``instead_of``'s rate; else None."""
    since = (now or timezone.now()) - timedelta(days=SUGGEST_DAYS)
    rows = (
        Order.objects.filter(
            kind=Kind.RECEIVE,
            service_code=service_code,
            status__in=DECIDED_STATUSES,
            created_at__gte=since,
        )
        .exclude(country_code=AUTO_SELECT)
        .values("country_code")
        .annotate(orders=Count("id"), codes=Count("id", filter=Q(status=Status.COMPLETED)), name=Max("country_name"))
    )
    rates = {row["country_code"]: row for row in rows}
    own = rates.pop(instead_of, None)
    own_rate = own["codes"] / own["orders"] if own else 0.0
    known = [row for row in rates.values() if row["orders"] >= SUGGEST_MIN_ORDERS]
    if not known:
        return None
    best = max(known, key=lambda row: (row["codes"] / row["orders"], row["orders"]))
    rate = best["codes"] / best["orders"]
    if rate < SUGGEST_MIN_RATE or rate <= own_rate:
        return None
    name = countries.country_name(best["country_code"], best["name"])
    return Suggestion(best["country_code"], name, best["codes"], best["orders"])
