"""Times in the buyer's zone, a notice when the code arrives, and the accessibility leftovers of issue #25, in
Chromium: local times named with their zone (UTC, named, without JavaScript); a rental's time left counting
down; the opt-in notification (asked on the click, never on load) and the hidden tab's title and icon; a new
rental SMS read out politely without moving focus; codes read digit by digit; no copy button without
JavaScript; focus rings for keyboard users only; every target at least 24 px.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_times_and_notices.py
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from orders.models import Kind, RentalMessage, Status
from tests.browser import choose, shoot
from tests.factories import make_order_in_germany as make
from tests.test_browser_live_status import focused, wait_js

pytestmark = pytest.mark.browser

# A spy on the Notification API (the real one is kept: its permission is Playwright's grant), and a
# document whose visibility the test sets (window.__hidden), as when the buyer is in another tab.
SPY = """
window.__notes = []; window.__asked = 0;
const Real = window.Notification;
if (Real) {
  window.Notification = class {
    constructor(title, options) { window.__notes.push(title); }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { window.__asked += 1; return Real.requestPermission(); }
  };
}
Object.defineProperty(Document.prototype, "hidden", { get() { return !!window.__hidden; } });
Object.defineProperty(Document.prototype, "visibilityState", {
  get() { return window.__hidden ? "hidden" : "visible"; }
});
"""


@pytest.fixture
def rental_page(sandbox_url, live_server, settings):
    """An active rental ending in 30 minutes with one SMS at 12:34 UTC: its page's address."""
    settings.SANDBOX = True
    ends = timezone.now() + timedelta(minutes=30)
    order = make(Status.ACTIVE, kind=Kind.RENTAL, number="447911123456", rental_weeks=1, rental_ends_at=ends)
    at = datetime(2026, 3, 5, 12, 34, tzinfo=UTC)
    RentalMessage.objects.create(order=order, code="482913", at=at)
    return live_server.url + order.get_absolute_url()


def test_times_are_in_the_browsers_zone_named_and_the_time_left_counts_down(new_page, rental_page):
    page = new_page(timezone_id="Asia/Tokyo", locale="en-US")
    page.goto(rental_page)
    inbox_time = page.inner_text(".inbox-entry time")
    assert "GMT+9" in inbox_time and "9:34" in inbox_time, inbox_time  # 12:34 UTC is 21:34 in Tokyo
    assert page.get_attribute(".inbox-entry time", "title") == "5 Mar, 12:34 UTC"  # the UTC time on hover
    ends = page.inner_text("#order-status strong time")
    assert "GMT+9" in ends and "UTC" not in ends
    assert "GMT+9" in page.inner_text(".order-head .meta time")  # "placed …"

    left = page.inner_text("[data-until]")
    assert re.fullmatch(r"(29|30) minutes?,? \d+ seconds?", left), left
    wait_js(page, f"document.querySelector('[data-until]').textContent !== {left!r}", timeout=5)
    # Not a live region ticking: screen readers are not told each second.
    assert page.locator("[data-until]").evaluate("e => e.closest('[aria-live], [role=status]')") is None

    page = new_page(
        timezone_id="Europe/Berlin", locale="ru-RU", viewport={"width": 390, "height": 900}
    )  # the page's language, the browser's zone
    page.goto(rental_page)
    assert re.search(r"GMT\+1|CET|GMT\+2|CEST", page.inner_text(".inbox-entry time"))
    assert "минут" in page.inner_text("[data-until]")
    shoot(page, "rental-local-times-ru-390")

    page = new_page(timezone_id="Asia/Tokyo", java_script_enabled=False)  # without JavaScript: UTC, named
    page.goto(rental_page)
    assert page.inner_text(".inbox-entry time") == "5 Mar, 12:34 UTC"
    assert page.inner_text("#order-status strong time").endswith(" UTC")


def test_no_copy_button_without_javascript_and_codes_read_digit_by_digit(new_page, rental_page):
    page = new_page(java_script_enabled=False)
    page.goto(rental_page)
    assert page.locator("[data-copy]").count() >= 3  # the number's, the SMS's, the link's
    assert page.locator("[data-copy]:visible").count() == 0  # none that would do nothing
    assert page.locator("[data-notify]:visible").count() == 0

    page = new_page()
    page.goto(rental_page)
    assert page.locator("[data-copy]:visible").count() == page.locator("[data-copy]").count()
    tree = page.locator(".inbox").aria_snapshot()
    assert "- text: 4 8 2 9 1 3" in tree and "482913" not in tree, tree


def test_focus_rings_only_for_keyboard_users(new_page, rental_page):
    page = new_page()
    page.goto(rental_page)
    page.mouse.click(5, 300)  # a mouse user; then a live update puts focus on the heading
    page.evaluate("document.querySelector('.status-title').focus()")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "none"
    page.keyboard.press("Shift")  # a keyboard user
    page.evaluate("document.body.focus(); document.querySelector('.status-title').focus()")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"  # :focus-visible


@pytest.mark.parametrize("lang", ["en", "ru", "de"])
def test_every_target_is_at_least_24_px_on_a_phone(new_page, sandbox_url, live_server, settings, lang):
    settings.SANDBOX = True
    pages = ["/", "/send/", "/rent/", "/orders/", make(Status.UNPAID).get_absolute_url()]
    pages.append(make(Status.COMPLETED, number="4915112345678", code="482913").get_absolute_url())
    page = new_page(viewport={"width": 390, "height": 800}, locale=lang)
    small = []
    for path in pages:
        page.goto(live_server.url + path)
        for box in page.locator("main :is(button, summary, select, input, a.btn):visible").evaluate_all(
            # a radio inside its label: the whole label is the target
            "els => els.map(e => { const r = (e.closest('label') || e).getBoundingClientRect();"
            " return [e.outerHTML.slice(0, 60), Math.round(r.width), Math.round(r.height)]; })"
        ):
            if box[1] < 24 or box[2] < 24:
                small.append((path, *box))
    assert small == [], "\n".join(map(str, small))


def test_the_code_arrives_as_a_notification_asked_for_on_the_click_only(shop, browser, settings):
    settings.SANDBOX_CODE_DELAY = 3
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale="es-ES")
    context.grant_permissions(["notifications"], origin=shop)
    context.add_init_script(SPY)
    page = context.new_page()
    page.goto(shop + "/")
    choose(page, 43, "tg")
    page.locator("button.btn-primary.btn-block").click()
    page.wait_for_selector(".qr-svg")
    button = page.get_by_role("button", name="Avísame cuando llegue el código")
    assert button.is_visible() and button.get_attribute("aria-pressed") == "false"
    assert page.evaluate("window.__asked") == 0  # never on load
    shoot(page, "order-notify-es-390")
    button.click()
    wait_js(page, "window.__asked === 1")
    # pressed once the browser answers the permission request (a promise): waited for, not assumed
    wait_js(page, "document.querySelector('[data-notify]').getAttribute('aria-pressed') === 'true'")
    assert "Activado" in page.inner_text("#notify-hint")

    page.click("text=Pagar con el monedero de pruebas")
    page.wait_for_selector("[data-number]")
    page.evaluate("window.__hidden = true")  # the buyer went to another tab
    code = page.wait_for_selector("[data-code]", timeout=30_000).inner_text()
    wait_js(page, "window.__notes.length === 1")
    assert page.evaluate("window.__notes") == [f"Tu código: {code}"]
    wait_js(page, "document.title.startsWith('\\ud83d\\udd14 Tu código')")
    assert page.get_attribute("link[rel~=icon]", "href").startswith("data:image/svg+xml")
    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    assert not page.evaluate("document.title").startswith("\ud83d\udd14")  # back as it was once seen
    assert page.get_attribute("link[rel~=icon]", "href").endswith(".svg")
    assert page.evaluate("window.__asked") == 1
    context.close()


def test_a_new_rental_sms_is_announced_without_moving_focus(shop, new_page, settings):
    settings.SANDBOX_CODE_DELAY = 1
    settings.SANDBOX_RENTAL_SMS_INTERVAL = 3
    settings.SANDBOX_RENTAL_SMS_COUNT = 2
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=shop)
    page.add_init_script(SPY)
    page.goto(shop + "/rent/")
    page.locator("input[name=country]").first.check()
    page.get_by_role("button", name="Rent number").click()
    page.wait_for_selector(".qr-svg")
    page.get_by_role("button", name="Tell me when an SMS arrives").click()
    wait_js(page, "window.__asked === 1")
    page.click("text=Pay with the sandbox wallet")
    page.wait_for_selector(".inbox-entry")
    page.focus("#order-status button:has-text('Copy number')")  # a keyboard user on a button in the card
    page.locator(".inbox-entry").nth(1).wait_for(timeout=30_000)
    newest = page.locator(".inbox-entry .inbox-code").first.inner_text()
    spaced = " ".join(newest)
    wait_js(page, f"document.getElementById('announcer').textContent === 'New SMS: {spaced}'")
    assert focused(page) == "btn btn-small | Copy number"  # where it was, not the heading
    assert f"New SMS: {newest}" in page.evaluate("window.__notes")


@pytest.mark.parametrize("lang", ["en", "es", "pt-BR", "de", "ru"])
def test_the_chosen_services_availability_is_readable_on_a_phone(shop, new_page, lang):
    page = new_page(viewport={"width": 390, "height": 900}, locale=lang)
    page.goto(shop + "/")
    choose(page, 43, "tg")
    option = page.evaluate("(s => s.options[s.selectedIndex].text)(document.getElementById('id_service'))")
    count = re.search(r"\d[\d\s.,\u00a0\u202f]*\d|\d", option.split("·", 1)[1]).group()
    shown = page.locator("#price-box .price-count")
    assert count in shown.inner_text() and shown.is_visible()  # in full, below the list, whatever its length
    assert shown.evaluate("e => e.scrollWidth <= e.clientWidth")
    # The closed list itself: the count fits the box (measured in the select's own font).
    fits = page.evaluate(
        """(s => { const c = document.createElement("canvas").getContext("2d"); const st = getComputedStyle(s);
            c.font = st.fontWeight + " " + st.fontSize + " " + st.fontFamily;
            const room = s.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
            return c.measureText(s.options[s.selectedIndex].text).width <= room; })
           (document.getElementById('id_service'))"""
    )
    assert fits, option
