#!/usr/bin/env python
"""Writes the two data files orders/countries.py reads, from the libraries that own the data:

- orders/data/country-names.json: CLDR's territory names (Babel) in every language the shop speaks,
  {language code: {ISO 3166 alpha-2: name}};
- orders/data/collation-keys.txt: the Unicode Collation Algorithm's default table (pyuca's DUCET) cut to the
  characters of the shop's scripts (Latin, Greek, Cyrillic, their accents and punctuation).

Why files and not the libraries at run time: loaded whole, Babel's locale data for five languages (9.8 MB) and
pyuca's table (10.6 MB) sat in every web process, for about 1,300 names and a few hundred characters
(BENCHMARKS.md, Memory). A character outside the cut table still sorts, by pyuca's implicit weights (after
the listed scripts, by code point), as it does in the full table.

Run after upgrading Babel or pyuca or adding a language to settings.LANGUAGES:

    .venv/bin/python bin/make_country_data.py

tests/test_countries.py checks that the committed files are what this script writes now, and that the cut
table sorts every country name in every language as the full one does.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "orders" / "data"
NAMES_FILE = DATA / "country-names.json"
COLLATION_FILE = DATA / "collation-keys.txt"
# Latin, Latin-1, Latin Extended A/B, IPA, spacing modifiers, combining accents, Greek, Cyrillic (and its
# supplement), Latin Extended Additional, general punctuation.
KEPT_RANGES = ((0x0000, 0x052F), (0x1E00, 0x1EFF), (0x2000, 0x206F))


def country_names(languages):
    from babel import Locale
    from django.utils.translation import to_locale

    names = {}
    for code in languages:
        territories = Locale.parse(to_locale(code)).territories
        names[code] = {iso: name for iso, name in sorted(territories.items()) if len(iso) == 2 and iso.isalpha()}
    return names


def names_text(languages):
    return json.dumps(country_names(languages), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def full_table_path():
    import pyuca

    return Path(pyuca.__file__).parent / f"allkeys-{pyuca.Collator.UCA_VERSION}.txt"


def _kept(line):
    characters = line.split(";", 1)[0].split()
    return all(any(low <= int(c, 16) <= high for low, high in KEPT_RANGES) for c in characters)


def collation_text():
    lines = []
    for raw in full_table_path().read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line and (line.startswith("@") or _kept(line)):
            lines.append(line)
    return "\n".join(lines) + "\n"


def shop_languages():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
    from django.conf import settings

    return [code for code, _label in settings.LANGUAGES]


def main():
    NAMES_FILE.write_text(names_text(shop_languages()))
    COLLATION_FILE.write_text(collation_text())
    print(f"wrote {NAMES_FILE.relative_to(ROOT)} and {COLLATION_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
