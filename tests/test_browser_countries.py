"""Country names and the search in the buyer's language, in a real browser whose language is set (Playwright's
locale → Accept-Language) on a phone-sized screen: names typed in any script, with or without accents, find
their country; anything else says, in the live region, that nothing matches, and changes nothing.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_countries.py
(SHOTS_DIR=... saves the screenshots: countries-<lang>-list, countries-<lang>-nomatch.)
"""

import pytest

from tests.browser import services_reloaded, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# What a buyer types → the sms4sats country (cc) it must select on its own.
SEARCHES = {
    "ru-RU": [("россия", 0), ("германия", 43), ("сша", 187), ("Германия", 43), ("espana", 56), ("UK", 16)],
    "es-ES": [
        ("Alemania", 43), ("espana", 56), ("estados unidos", 187), ("eeuu", 187), ("Reino Unido", 16),
        ("россия", 0),
    ],
    "de-DE": [("Russland", 0), ("Großbritannien", 16), ("grossbritannien", 16), ("deutschland", 43)],
    "pt-BR": [("Alemanha", 43), ("EUA", 187), ("Rússia", 0), ("russia", 0)],
    "en-US": [("germany", 43), ("россия", 0), ("alemania", 43), ("south africa", 31)],
}  # fmt: skip

NO_MATCH = {
    "ru-RU": "Ни одна страна не подходит под «абырвалг». Выбор не изменился.",
    "es-ES": "Ningún país coincide con «abyrvalg». La selección no cambia.",
    "de-DE": "Kein Land passt zu „abyrvalg“. Die Auswahl bleibt unverändert.",
    "pt-BR": "Nenhum país corresponde a “abyrvalg”. A seleção não mudou.",
    "en-US": "No country matches “abyrvalg”. The selection is unchanged.",
}


def open_picker(new_page, live_server, locale):
    page = new_page(locale=locale, viewport=PHONE)
    page.goto(live_server.url + "/")
    page.wait_for_selector("#country-filter:not([hidden])")
    return page


def search(page, text):
    page.fill("#country-filter", text)
    return page.inner_text("#country-filter-status")


@pytest.mark.parametrize("locale", SEARCHES.keys())
def test_every_name_in_every_script_finds_its_country(sandbox_url, live_server, settings, new_page, locale):
    settings.SANDBOX = True
    page = open_picker(new_page, live_server, locale)
    for typed, cc in SEARCHES[locale]:
        status = search(page, typed)
        assert page.input_value("#id_country") == str(cc), typed
        label = page.eval_on_selector("#id_country", "s => s.selectedOptions[0].getAttribute('data-label')")
        assert label in status, (typed, status)  # the live region names the country it selected
    shoot(page, f"countries-{locale[:2]}-list")


@pytest.mark.parametrize("locale", NO_MATCH.keys())
def test_no_match_is_said_aloud_and_changes_nothing(sandbox_url, live_server, settings, new_page, locale):
    settings.SANDBOX = True
    page = open_picker(new_page, live_server, locale)
    with page.expect_response(lambda r: "/catalog/services" in r.url):
        search(page, "германия")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/catalog/" in r.url else None)
    typed = "абырвалг" if locale == "ru-RU" else "abyrvalg"
    assert search(page, typed) == NO_MATCH[locale]
    region = page.locator("#country-filter-status")
    assert region.get_attribute("role") == "status" and region.is_visible()  # a polite live region, read out
    page.wait_for_timeout(600)  # longer than the filter's delay before it reloads the services
    assert page.input_value("#id_country") == "43" and requests == []
    assert page.locator("#id_country option").count() > 150  # the whole list, not a guess
    # Punctuation alone is a keystroke too: it is answered, not ignored.
    assert search(page, "?!") == NO_MATCH[locale].replace(typed, "?!")
    shoot(page, f"countries-{locale[:2]}-nomatch")
    # The live region stays in the page (empty) once the search is cleared, so the next answer is read out.
    search(page, "")
    assert page.locator("#country-filter-status").get_attribute("hidden") is None
    assert page.input_value("#id_country") == "43"


def test_the_list_is_in_the_buyers_language_and_order(sandbox_url, live_server, settings, new_page):
    settings.SANDBOX = True
    page = open_picker(new_page, live_server, "ru-RU")
    labels = page.eval_on_selector_all("#id_country option", "options => options.map(o => o.textContent)")
    assert labels[0] == "Автовыбор"
    assert labels.index("Германия") < labels.index("Израиль") < labels.index("Йемен") < labels.index("Россия")
    assert labels[-1] == "USA (virtual)"  # no ISO code: sms4sats' name, after the Cyrillic ones


def test_service_search_folds_case_and_accents(sandbox_url, live_server, settings, new_page):
    settings.SANDBOX = True
    page = open_picker(new_page, live_server, "es-ES")
    with services_reloaded(page):
        search(page, "alemania")
    page.wait_for_selector("#service-filter:not([hidden])")
    with page.expect_response(lambda r: "/catalog/price" in r.url):
        page.fill("#service-filter", "TÉLÉGRAM")
    assert page.input_value("#id_service") == "tg"
    page.fill("#service-filter", "абырвалг")
    assert (
        page.inner_text("#service-filter-status") == "Ningún servicio coincide con «абырвалг». La selección no cambia."
    )
    assert page.input_value("#id_service") == "tg"
