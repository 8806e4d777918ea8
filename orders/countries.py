"""Country names in the buyer's language.

sms4sats names its countries in English, its own way ("Southafrica", "DCongo", "England"). The shop maps each
sms4sats country code (cc) to its ISO 3166 code (data/country-iso.json) and shows the CLDR name for that code
in the page's language (data/country-names.json, written from Babel by bin/make_country_data.py; not
hand-written catalogs). A cc without an ISO code (Auto-Select, "USA (virtual)") keeps sms4sats' name;
Auto-Select is ours to translate.

Lists are sorted with the Unicode Collation Algorithm (pyuca, with its default table cut to the shop's scripts:
data/collation-keys.txt): accents and case count only after the letters, and Cyrillic sorts as Russian readers
expect (Й after И, Ё with Е).

Translated at display time, never stored: the catalog cache and the orders keep sms4sats' names, so one cache
serves every language and an order reads in the language of whoever opens it.
"""

import dataclasses
import functools
import json
from pathlib import Path

import pyuca
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .sms4sats import AUTO_SELECT

DATA = Path(__file__).resolve().parent / "data"
ISO_FILE = DATA / "country-iso.json"
NAMES_FILE = DATA / "country-names.json"  # {language code: {ISO code: CLDR name}}
COLLATION_FILE = DATA / "collation-keys.txt"
AUTO_SELECT_NAME = _("Auto-Select")


@functools.cache
def iso_codes():
    """{cc: ISO 3166 alpha-2} for every sms4sats country that is a real country."""
    return {int(cc): iso for cc, iso in json.loads(ISO_FILE.read_text()).items() if cc.isdigit()}


@functools.cache
def _names():
    return json.loads(NAMES_FILE.read_text())


def _territories(language):
    """{ISO code: name} in ``language`` (a Django language code; its base language, else English, when the file
    has no names for it)."""
    names = _names()
    return names.get(language.lower()) or names.get(language.split("-")[0].lower()) or names["en"]


def _language(language=None):
    return language or get_language() or settings.LANGUAGE_CODE


def country_name(cc, fallback, language=None):
    """The name of sms4sats country ``cc`` in ``language`` (default: the active one); ``fallback`` (sms4sats'
    name) when the country has no ISO code or CLDR has no name for it."""
    if cc == AUTO_SELECT:
        return str(AUTO_SELECT_NAME)
    iso = iso_codes().get(cc)
    if iso is None:
        return fallback
    return _territories(_language(language)).get(iso) or fallback


def number_country_name(number, fallback, language=None):
    """The country of a phone number in ``language``: an order placed with Auto-Select learns its country only
    from the number sms4sats gives (its region by the phonenumbers library; ``fallback`` if it has none)."""
    import phonenumbers

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + str(number).lstrip("+"), None))
    except phonenumbers.NumberParseException:
        region = None
    if not region or region == "ZZ":
        return fallback
    return _territories(_language(language)).get(region) or fallback


def names_in_every_language(cc):
    """The country's CLDR names in every language the shop speaks (for the search: a buyer may type the name
    in any of them, whatever the page's language)."""
    iso = iso_codes().get(cc)
    if iso is None:
        return []
    names = (_territories(code).get(iso) for code, _label in settings.LANGUAGES)
    return list(dict.fromkeys(name for name in names if name))


@functools.cache
def _collator():
    return pyuca.Collator(str(COLLATION_FILE))


@functools.lru_cache(maxsize=4096)
def _uca_key(name):
    return _collator().sort_key(name)


def _cyrillic(name):
    return "\u0400" <= name[:1] <= "\u04ff"


def sort_key(name, language=None):
    """Collation key in ``language`` (default: the active one): the Unicode default order (accents and case
    count only after the letters), with Russian's own script first, as Russian collation puts it (an
    untranslated Latin name goes after the Cyrillic ones)."""
    name = str(name)
    script_first = _language(language).startswith("ru") and not _cyrillic(name)
    return (script_first, _uca_key(name))


def sort_by_name(items, name=lambda item: item.name, language=None):
    """``items`` sorted by their (translated) name in the buyer's language."""
    return sorted(items, key=lambda item: sort_key(name(item), language))


def in_buyers_language(entries):
    """Catalog ``entries`` (anything with ``cc`` and ``name``: CountryEntry, RentalOffer) renamed in the buyer's
    language and sorted in it."""
    return sort_by_name([dataclasses.replace(e, name=country_name(e.cc, e.name)) for e in entries])
