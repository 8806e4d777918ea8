"""The buyer's pages with assistive technology in mind, in Chromium: axe-core finds no violation on any
buyer page in any order state, at 1280 and 390 px, in light and dark; the status part's accessibility tree;
dark mode; the phone layout; the error pages within the CSP.

axe-core is vendored for these tests only (tests/vendor/axe.min.js, MPL-2.0, from the npm package
axe-core 4.11.0); it is injected as an init script, so the pages' CSP is untouched.
Set SHOTS_DIR=/some/dir to also save a screenshot of every page checked.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_accessibility.py
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from orders.models import Kind, RefundReason, SmsStatus, Status
from tests.factories import make_order_in_germany as make

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SOON, PAST = timezone.now() + timedelta(days=14), timezone.now() - timedelta(minutes=20)
WIDTHS = {"wide": 1280, "phone": 390}
SCHEMES = ["light", "dark"]

ORDER_STATES = {
    "creating": (Status.CREATING, Kind.RECEIVE, {}),
    "unpaid": (Status.UNPAID, Kind.RECEIVE, {}),
    "paid-no-number": (Status.HELD, Kind.RECEIVE, {}),
    "waiting-code": (Status.WAITING_CODE, Kind.RECEIVE, {"number": "4915112345678"}),
    "completed": (Status.COMPLETED, Kind.RECEIVE, {"number": "4915112345678", "code": "482913"}),
    "refunded": (Status.REFUNDED, Kind.RECEIVE, {"refund_reason": RefundReason.TIMEOUT}),
    "expired": (Status.EXPIRED, Kind.RECEIVE, {}),
    "failed": (Status.FAILED, Kind.RECEIVE, {}),
    "expired-watching": (Status.EXPIRED, Kind.RECEIVE, {"invoice_expires_at": PAST, "next_poll_at": SOON}),
    "rental-unpaid": (Status.UNPAID, Kind.RENTAL, {"rental_weeks": 2}),
    "sms-sending": (Status.HELD, Kind.SEND, {"sms_status": SmsStatus.CREATED}),
    "sms-delivered": (Status.COMPLETED, Kind.SEND, {"sms_status": SmsStatus.DELIVERED}),
    "rental-paid": (Status.HELD, Kind.RENTAL, {"rental_weeks": 2}),
    "rental-active": (
        Status.ACTIVE,
        Kind.RENTAL,
        {"number": "447911123456", "rental_weeks": 2, "rental_ends_at": SOON},
    ),
    "rental-ended": (Status.ENDED, Kind.RENTAL, {"number": "447911123456", "rental_weeks": 2, "rental_ends_at": PAST}),
    "awaiting-confirmation": (Status.UNPAID, Kind.RECEIVE, {"invoice_expires_at": PAST}),
    # Numbers the operator paid from the prepaid balance (no invoice; the buyer pays nothing).
    "balance-waiting-code": (
        Status.WAITING_CODE,
        Kind.RECEIVE,
        {"number": "4915112345678", "paid_from_balance": True, "bolt11": ""},
    ),
    "balance-completed": (
        Status.COMPLETED,
        Kind.RECEIVE,
        {"number": "4915112345678", "code": "482913", "paid_from_balance": True, "bolt11": ""},
    ),
    "balance-refunded": (
        Status.REFUNDED,
        Kind.RECEIVE,
        {"refund_reason": RefundReason.TIMEOUT, "paid_from_balance": True, "bolt11": ""},
    ),
}


def open_context(browser, width, scheme, **options):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, device_scale_factor=1, **options
    )
    context.add_init_script(path=str(AXE))
    return context


def axe_violations(page):
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))"""
    )


def csp_errors(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


@pytest.fixture
def buyer_pages(sandbox_url, live_server, settings):
    """Every buyer page, and an order page in every state: {name: url}."""
    settings.SANDBOX = True
    # The shop's own name and contact: in the footer, on refunds, failures, the receipt and the error pages.
    settings.SHOP_NAME = "Nakamoto Numbers"
    settings.SHOP_CONTACT = "help@shop.example"
    settings.SHOP_TERMS_URL = "https://shop.example/terms"
    base = live_server.url
    pages = {
        "home": base + "/",
        "send": base + "/send/",
        "rent": base + "/rent/",
        "my-orders": base + "/orders/",
        "how": base + "/how-it-works/",
        "not-found": base + "/no-such-page/",
    }
    for name, (state, kind, fields) in ORDER_STATES.items():
        pages["order-" + name] = base + make(state, kind=kind, **fields).get_absolute_url()
    pages["receipt"] = pages["order-completed"] + "receipt"
    return pages


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_axe_finds_no_violation_on_any_buyer_page(browser, buyer_pages, width, scheme):
    context = open_context(browser, width, scheme)
    page = context.new_page()
    blocked = csp_errors(page)
    found = {}
    shots = os.environ.get("SHOTS_DIR")
    for name, url in buyer_pages.items():
        page.goto(url)
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        if violations:
            found[name] = violations
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{shots}/{name}-{width}-{scheme}.png", full_page=True)
    context.close()
    assert found == {}
    assert blocked == []


def test_the_status_part_reads_well_in_the_accessibility_tree(browser, buyer_pages):
    context = open_context(browser, 1280, "light")
    page = context.new_page()
    page.goto(buyer_pages["order-waiting-code"])
    tree = page.locator("#order-status").aria_snapshot()
    assert tree.startswith('- heading "Waiting for the SMS code…" [level=2]')
    for line in [
        "- text: Your number +4915112345678",
        '- button "Copy number"',
        '- button "Cancel and return my payment" [disabled]',
    ]:
        assert line in tree, tree
    # The countdowns are plain text, in no live region; the one live region is the page's announcer.
    assert page.locator("#order-status [aria-live], #order-status [role=status]").count() == 0
    assert page.locator("[aria-live]").evaluate_all("els => els.map(e => e.id)") == ["announcer"]
    page.goto(buyer_pages["order-completed"])
    assert (
        page.locator("#order-status")
        .aria_snapshot()
        .startswith('- heading "Your code" [level=2]\n- text: 4 8 2 9 1 3\n- button "Copy code"')  # digit by digit
    )
    context.close()


def test_dark_mode_follows_the_system_setting(browser, buyer_pages):
    colours = {}
    for scheme in SCHEMES:
        context = open_context(browser, 1280, scheme)
        page = context.new_page()
        page.goto(buyer_pages["order-unpaid"])
        colours[scheme] = page.evaluate(
            """() => ["body", ".card", ".btn", "h1"].map(s => {
                const style = getComputedStyle(document.querySelector(s));
                return style.backgroundColor + " / " + style.color; })"""
        )
        # The QR code keeps its white background in both, for the wallets' cameras.
        assert page.evaluate("getComputedStyle(document.querySelector('.qr')).backgroundColor") == "rgb(255, 255, 255)"
        context.close()
    assert all(light != dark for light, dark in zip(colours["light"], colours["dark"], strict=True)), colours
    assert colours["light"][0].startswith("rgb(246, 245, 242)")


def test_on_a_phone_the_amount_and_open_in_wallet_come_before_the_qr(browser, buyer_pages):
    context = open_context(browser, 390, "light")
    page = context.new_page()
    page.goto(buyer_pages["order-unpaid"])
    qr = page.locator(".qr").bounding_box()
    for selector in (".amount", "a.btn-primary:has-text('Open in wallet')"):
        assert page.locator(selector).bounding_box()["y"] < qr["y"], selector
    assert page.locator("a:has-text('Open in wallet')").bounding_box()["y"] < 900  # above the fold
    assert page.locator("button:has-text('Copy link to this order')").is_visible()
    context.close()
    context = open_context(browser, 1280, "light")
    page = context.new_page()
    page.goto(buyer_pages["order-unpaid"])
    assert page.locator(".qr").bounding_box()["x"] < page.locator(".amount").bounding_box()["x"]  # side by side
    context.close()


def test_error_pages_have_the_site_layout_within_the_csp(browser, buyer_pages, live_server, settings):
    settings.DEBUG = False
    context = open_context(browser, 1280, "light")
    page = context.new_page()
    blocked = csp_errors(page)
    response = page.goto(buyer_pages["not-found"])
    assert response.status == 404
    assert page.inner_text("h1") == "This page does not exist"
    assert page.locator("nav[aria-label=Main] a").count() == 5
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderRadius") == "14px"  # styled
    # A form posted without its CSRF cookie: the styled 403, not Django's page.
    page.goto(live_server.url + "/send/")
    context.clear_cookies()
    page.fill("#id_phone", "+447911123456")
    page.fill("#id_message", "hello")
    with page.expect_response(lambda r: r.url.endswith("/send/") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send SMS").click()
    assert answer.value.status == 403
    assert page.inner_text("h1") == "This form has expired"
    text = page.inner_text("main")
    assert "DEBUG" not in text and "CSRF" not in text and "Nothing was ordered" in text
    assert page.locator("nav[aria-label=Main]").is_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderRadius") == "14px"
    assert axe_violations(page) == []
    assert blocked == []
    context.close()
