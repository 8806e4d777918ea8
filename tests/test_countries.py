"""Country names in the buyer's language (orders/countries.py): every sms4sats country has its ISO code, the
names come from CLDR in each shop language, and the lists are sorted as that language sorts."""

import re

import pytest
from django.utils import translation

from orders import catalog, countries
from orders.catalog import CountryEntry, RentalOffer
from orders.sms4sats import AUTO_SELECT, Country
from sandbox.catalog import RENTAL_CANDIDATES
from shop import picker

# The sms4sats countries that are no country of ISO 3166: they keep sms4sats' name.
NO_ISO_CODE = {AUTO_SELECT, 12}  # Auto-Select, "USA (virtual)"


def test_every_bundled_and_rental_country_has_an_iso_code():
    bundled = {int(row["cc"]) for row in catalog.bundled_country_rows()}
    assert set(RENTAL_CANDIDATES) <= bundled
    assert bundled - NO_ISO_CODE == set(countries.iso_codes())
    assert all(re.fullmatch(r"[A-Z]{2}", iso) for iso in countries.iso_codes().values())
    assert len(set(countries.iso_codes().values())) == len(countries.iso_codes())  # no two ccs share a code


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", {0: "Russia", 16: "United Kingdom", 187: "United States", 43: "Germany", 31: "South Africa"}),
        ("es", {0: "Rusia", 16: "Reino Unido", 187: "Estados Unidos", 43: "Alemania", 56: "España"}),
        ("pt-br", {0: "Rússia", 16: "Reino Unido", 187: "Estados Unidos", 43: "Alemanha"}),
        ("de", {0: "Russland", 16: "Vereinigtes Königreich", 187: "Vereinigte Staaten", 43: "Deutschland"}),
        ("ru", {0: "Россия", 16: "Великобритания", 187: "Соединенные Штаты", 43: "Германия"}),
    ],
)
def test_names_in_every_shop_language(language, expected):
    for cc, name in expected.items():
        assert countries.country_name(cc, "fallback", language) == name


def test_countries_without_a_code_keep_sms4sats_name_and_auto_select_is_ours():
    with translation.override("ru"):
        assert countries.country_name(12, "USA (virtual)") == "USA (virtual)"
        assert countries.country_name(4242, "Atlantis") == "Atlantis"
        assert countries.country_name(AUTO_SELECT, "Auto-Select") == "Автовыбор"
    with translation.override("es"):
        assert countries.country_name(AUTO_SELECT, "Auto-Select") == "Selección automática"


def test_sorted_as_the_language_sorts():
    names = ["Йемен", "Израиль", "USA (virtual)", "Египет", "Ёлка"]
    # Й is a letter after И; Ё sorts with Е; Latin goes after Cyrillic in Russian
    assert sorted(names, key=lambda n: countries.sort_key(n, "ru")) == [
        "Египет", "Ёлка", "Израиль", "Йемен", "USA (virtual)",
    ]  # fmt: skip
    german = ["Österreich", "Oman", "Ozeanien", "Ägypten", "Albanien"]
    assert sorted(german, key=lambda n: countries.sort_key(n, "de")) == [
        "Ägypten", "Albanien", "Oman", "Österreich", "Ozeanien",
    ]  # fmt: skip


def test_picker_labels_sorts_and_searches_in_the_buyers_language():
    with translation.override("es"):
        choices = picker.country_choices(catalog.bundled_countries())
    assert choices[0].name == "Selección automática"
    labels = [c.name for c in choices[1:]]
    assert labels == sorted(labels, key=lambda n: countries.sort_key(n, "es"))
    spain = next(c for c in choices if c.cc == 56)
    assert spain.name == "España"
    usa = next(c for c in choices if c.cc == 187).search_names.split("|")
    # the label, sms4sats' name, CLDR's names in every shop language, aliases by language
    assert {"Estados Unidos", "USA", "United States", "Соединенные Штаты", "США", "EEUU", "EUA"} <= set(usa)
    uk = next(c for c in choices if c.cc == 16)
    assert {"Großbritannien", "Vereinigtes Königreich", "Великобритания"} <= set(uk.search_names.split("|"))
    assert uk.search_codes.split("|")[0] == "GB"


def test_rental_offers_in_the_buyers_language():
    offers = [RentalOffer(16, "England", 2, 4815), RentalOffer(43, "Germany", 2, 3000), RentalOffer(12, "X", 1, 9)]
    with translation.override("ru"):
        assert [o.name for o in countries.in_buyers_language(offers)] == ["Великобритания", "Германия", "X"]
    assert countries.in_buyers_language([CountryEntry(0, "Russia")])[0].name == "Russia"


# The pages in Russian and Spanish: translated names, sorted in that language ---------------------------


def _options(html):
    return re.findall(r'<option data-names="[^"]*"(?: data-codes="[^"]*")? value="(\d+)"[^>]*>([^<]+)</option>', html)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "auto", "first_names"),
    [
        ("ru", "Автовыбор", ["Германия", "Израиль", "Йемен", "Россия", "Соединенные Штаты", "USA (virtual)"]),
        ("es", "Selección automática", ["Alemania", "España", "Estados Unidos", "Reino Unido", "USA (virtual)"]),
    ],
)
def test_home_lists_translated_names_sorted_in_the_language(client, upstream, language, auto, first_names):
    upstream.countries_list += [Country(56, "Spain", True), Country(30, "Yemen", True), Country(13, "Israel", True)]
    upstream.countries_list += [Country(12, "USA (virtual)", True)]
    html = client.get("/", headers={"accept-language": language}).content.decode()
    options = _options(html)
    assert options[0] == ("999", auto)
    labels = [label for _cc, label in options[1:]]
    assert labels == sorted(labels, key=lambda n: countries.sort_key(n, language))
    assert [label for label in labels if label in first_names] == first_names  # each there, in that order
    assert "England" not in labels and "Germany" not in labels


@pytest.mark.django_db
def test_rent_page_in_russian(client, upstream):
    html = client.get("/rent/", headers={"accept-language": "ru"}).content.decode()
    names = re.findall(r'<span class="choice-name">([^<]+)</span>', html)
    assert "Великобритания" in names and "Индонезия" in names
    assert names == sorted(names, key=lambda n: countries.sort_key(n, "ru"))


# The data files (bin/make_country_data.py) ---------------------------------------------------------------


def _make_country_data():
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(countries.__file__).resolve().parent.parent / "bin" / "make_country_data.py"))


def test_the_country_names_are_babels_for_every_shop_language(settings):
    script = _make_country_data()
    languages = [code for code, _label in settings.LANGUAGES]
    assert countries.NAMES_FILE.read_text() == script["names_text"](languages), (
        "orders/data/country-names.json is not Babel's: run bin/make_country_data.py"
    )
    assert countries.country_name(0, "fallback", "pt-BR") == "Rússia"  # the code as the browser may spell it
    assert countries.country_name(0, "fallback", "ru-ru") == "Россия"  # a region of a shop language
    assert countries.country_name(0, "fallback", "fr") == "Russia"  # no names for it: English


def test_the_cut_collation_table_sorts_every_name_as_the_full_one():
    import pyuca

    script = _make_country_data()
    assert countries.COLLATION_FILE.read_text() == script["collation_text"](), (
        "orders/data/collation-keys.txt is not pyuca's table cut: run bin/make_country_data.py"
    )
    full, cut = pyuca.Collator(), countries._collator()
    names = {name for by_iso in countries._names().values() for name in by_iso.values()}
    names |= {row["country"] for row in catalog.bundled_country_rows()}
    names |= {"Ёлка", "Йемен", "Ñandú", "Ærø", "Straße", "Curaçao", "İstanbul", "Việt Nam", "日本", "Ελλάδα"}
    assert len(names) > 1000
    assert sorted(names, key=full.sort_key) == sorted(names, key=cut.sort_key)
    assert len(countries.COLLATION_FILE.read_text()) < len(script["full_table_path"]().read_text()) / 20
