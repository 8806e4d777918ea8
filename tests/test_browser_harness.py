"""The browser tests' own harness (tests/browser.py): one Chromium per test process, launched again after a crash,
so that one test that brings it down fails alone and not every browser test after it in that process."""

import psutil
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import chromium

pytestmark = pytest.mark.browser


def own_chromium():
    """This process's Chromium (under Playwright's driver): its main process, the one without a --type."""
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "chromium" and not any(arg.startswith("--type=") for arg in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def test_a_crashed_chromium_is_launched_again_for_the_next_test(browser):
    crashed = own_chromium()
    assert crashed is not None
    crashed.kill()
    crashed.wait(10)
    with pytest.raises(PlaywrightError):  # what the crashed test sees; Playwright learns that the browser is gone
        browser.new_context()
    assert not browser.is_connected()

    again = chromium.get()  # what the next test's `browser` fixture gets
    assert again is not browser and again.is_connected()
    page = again.new_page()
    page.goto("data:text/html,<p>again</p>")
    assert page.inner_text("p") == "again"
    page.close()
