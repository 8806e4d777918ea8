"""The country and service search in a real browser: every name and short form finds its country, the best
match first; nothing is picked on a guess, and nothing changes when nothing matches.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_picker.py
"""

import pytest

from tests.browser import services_reloaded, shoot

pytestmark = pytest.mark.browser


@pytest.fixture
def picker(sandbox_url, live_server, page, settings):
    settings.SANDBOX = True
    page.goto(live_server.url + "/")
    page.wait_for_selector("#country-filter:not([hidden])")
    return page


def find_country(page, text, *, reloads=True):
    """Type ``text`` in the country search; wait for the services of the newly selected country if any."""
    if reloads:
        with services_reloaded(page):
            page.fill("#country-filter", text)
    else:
        page.fill("#country-filter", text)
    page.wait_for_selector("#country-filter-status:not([hidden])")
    return page.inner_text("#country-filter-status")


def shown_countries(page):
    return page.eval_on_selector_all("#id_country option", "options => options.map(o => o.textContent)")


@pytest.mark.parametrize(
    ("typed", "cc", "label"),
    [
        ("uk", "16", "United Kingdom"),  # not Ukraine
        ("UK", "16", "United Kingdom"),
        ("us", "187", "United States"),  # not Australia or Russia
        ("britain", "16", "United Kingdom (Britain)"),
        ("america", "187", "United States (America)"),
        ("de", "43", "Germany"),
        ("england", "16", "United Kingdom (England)"),  # sms4sats' own name
        ("southafrica", "31", "South Africa"),  # spaces do not matter
    ],
)
def test_names_aliases_and_codes_find_their_country(picker, typed, cc, label):
    status = find_country(picker, typed)
    assert picker.input_value("#id_country") == cc
    assert shown_countries(picker)[0] == label  # the exact match ranks first
    assert f"{label.split(' (')[0]} selected" in status
    assert picker.inner_text("#id_service option:nth-child(2)")  # that country's services were loaded


def test_several_equally_good_matches_are_listed_and_none_is_picked(picker):
    find_country(picker, "germany")
    status = find_country(picker, "united")
    assert picker.input_value("#id_country") == ""
    shown = shown_countries(picker)
    assert shown[0] == "Choose one of the 4 matches…"
    assert set(shown[1:]) == {
        "United Kingdom",
        "United States",
        "United Arab Emirates",
        "USA (virtual) (United States (virtual))",
    }
    assert "4 countries match “united”: choose one from the list." == status
    assert picker.inner_text("#service-field .hint") == "Choose a country from the list."  # a hint, not an error
    shoot(picker, "picker-united")
    # The buyer then picks one: the order form has it.
    with picker.expect_response(lambda r: "/catalog/services" in r.url):
        picker.select_option("#id_country", "187")
    assert picker.input_value("#id_country") == "187"


def test_a_selection_that_matches_stays(picker):
    find_country(picker, "uk")
    requests = []
    picker.on("request", lambda r: requests.append(r.url) if "/catalog/" in r.url else None)
    picker.fill("#country-filter", "united")
    picker.wait_for_selector("#country-filter-status:has-text('united')")
    picker.wait_for_timeout(600)
    assert picker.input_value("#id_country") == "16"
    assert requests == []


def test_nothing_matches_nothing_changes(picker):
    find_country(picker, "germany")
    services = picker.inner_html("#service-field")
    requests = []
    picker.on("request", lambda r: requests.append(r.url) if "/catalog/" in r.url else None)
    status = find_country(picker, "zzz", reloads=False)
    picker.wait_for_timeout(600)  # longer than the filter's delay before it reloads the services
    assert status == "No country matches “zzz”. The selection is unchanged."
    assert picker.input_value("#id_country") == "43"
    assert len(shown_countries(picker)) > 100  # the whole list, not a guess
    assert picker.inner_html("#service-field") == services
    assert requests == []
    shoot(picker, "picker-zzz")
    # Clearing the search keeps the selection too.
    picker.fill("#country-filter", "")
    assert picker.input_value("#id_country") == "43"
    assert picker.locator("#country-filter-status").is_hidden()


def test_service_search_follows_the_same_rules(picker):
    find_country(picker, "germany")
    with picker.expect_response(lambda r: "/catalog/price" in r.url):
        picker.fill("#service-filter", "tele")
    assert picker.input_value("#id_service") == "tg"
    picker.wait_for_selector("#price-box .price-amount")
    assert "Telegram selected" in picker.inner_text("#service-filter-status")

    with picker.expect_response(lambda r: "/catalog/price" in r.url):
        picker.fill("#service-filter", "youtube")  # a part of "Google,youtube,Gmail"
    assert picker.input_value("#id_service") == "go"

    picker.fill("#service-filter", "zzz")
    picker.wait_for_selector("#service-filter-status:has-text('No service matches')")
    assert picker.input_value("#id_service") == "go"
    picker.fill("#service-filter", "s")  # Signal, Steam, the sandbox's...: and the selection does not match
    picker.wait_for_selector("#service-filter-status:has-text('choose one')")
    assert picker.input_value("#id_service") == ""
