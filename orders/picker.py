"""What a buyer may type to find a country in the picker: every name sms4sats gives a country (aliases
included), readable and common names, and short forms such as ISO codes (UK, US, DE).

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

from .catalog import bundled_country_rows
from .models import Kind, Order, Status
from .sms4sats import AUTO_SELECT

DATA = Path(__file__).resolve().parent / "data"
SEPARATOR = "|"  # between the names in a data attribute; no country name contains it


@dataclass(frozen=True)
class CountryChoice:
    cc: int
    name: str  # as sms4sats names it: the option's label
    search_names: str  # every name, the label first, SEPARATOR-joined
    search_codes: str  # short forms matched only exactly, SEPARATOR-joined


@cache
def _terms():
    """{cc: (names, codes)} from the bundled country list and the alias file."""
    names, codes = {}, {}
    for row in bundled_country_rows():
        names.setdefault(int(row["cc"]), []).append(row["country"])
    for cc, extra in json.loads((DATA / "country-aliases.json").read_text()).items():
        if cc.isdigit():
            names.setdefault(int(cc), []).extend(extra["names"])
            codes[int(cc)] = extra["codes"]
    return {cc: (tuple(names.get(cc, ())), tuple(codes.get(cc, ()))) for cc in names.keys() | codes.keys()}


def country_choices(countries):
    """The picker's options for catalog ``countries`` (CountryEntry), with their search terms."""
    terms = _terms()
    choices = []
    for country in countries:
        names, codes = terms.get(country.cc, ((), ()))
        every = list(dict.fromkeys([country.name, *names]))
        choices.append(CountryChoice(country.cc, country.name, SEPARATOR.join(every), SEPARATOR.join(codes)))
    return choices


# After a failed number: the country where this service's codes arrived most often lately ----------------

SUGGEST_DAYS = 7
SUGGEST_MIN_ORDERS = 10  # finished orders in a country before its rate means anything
SUGGEST_MIN_RATE = 0.5


@dataclass(frozen=True)
class Suggestion:
    cc: int
    name: str
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
            status__in=[Status.COMPLETED, Status.REFUNDED],
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
    return Suggestion(best["country_code"], best["name"], best["codes"], best["orders"])
