"""What a buyer may type to find a country in the picker: every name sms4sats gives a country (aliases
included), readable and common names, and short forms such as ISO codes (UK, US, DE).

The ranking itself happens in the browser (static/shop.js, "Filter boxes"): an exact name or code first,
then names that start with the text, then a word that does, then the text anywhere. The search never picks
an option on its own unless exactly one option is the best match, and never changes the selection when
nothing matches. Services are searched by their name and code the same way (no extra data needed).
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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
    for row in json.loads((DATA / "sms4sats-countries.json").read_text()):
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
