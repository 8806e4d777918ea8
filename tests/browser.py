"""Browser-test fixtures and helpers (Chromium via Playwright, against a live server with the sandbox over
HTTP, a real Celery worker and Redis). The fixtures are made available to every test by tests/conftest.py.
"""

import os
import threading
import time
from contextlib import contextmanager

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

from orders.models import Order  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _Chromium:
    """One Chromium per test process, kept from its first browser test to the first test of another tier
    (tests/conftest.py closes it there): a launch, with Playwright's driver, costs a second or two of CPU, and
    the browser tier runs first. Not kept beside the other tiers: Playwright's event loop, running while it is
    open, would be the running loop of every test after it (asyncio.run refuses to start inside one)."""

    def __init__(self):
        self._playwright = None
        self._browser = None

    def get(self):
        if self._browser is not None and not self._browser.is_connected():  # it crashed: not the next tests' fault
            self.close()
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self._browser

    def close(self):
        if self._playwright is not None:
            browser, playwright, self._browser, self._playwright = self._browser, self._playwright, None, None
            try:
                if browser.is_connected():
                    browser.close()
            finally:
                playwright.stop()


chromium = _Chromium()


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a failure, not a skip
            pytest.fail(f"{CHROMIUM} is not installed")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return chromium.get()


# Pages as the tests open them. Reduced motion: the shop's spinner and live dot stand still, as the shop's CSS
# lets them for buyers who ask (a turning spinner keeps Chromium repainting, in software, about 7 % of a core
# per open page). Screenshots for people (SHOTS_DIR) are taken at twice the pixels.
PAGE_OPTIONS = {
    "viewport": {"width": 1100, "height": 900},
    "device_scale_factor": 2 if os.environ.get("SHOTS_DIR") else 1,
    "reduced_motion": "reduce",
}


@pytest.fixture
def new_page(browser):
    """Open pages in contexts of their own (``new_page(locale="es-ES", viewport=...)``, Playwright's context
    options); all closed after the test, which fails on any JavaScript error."""
    contexts, errors = [], []

    def open_page(**options):
        context = browser.new_context(**{**PAGE_OPTIONS, **options})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def shop(settings, sandbox_url, celery_worker, live_server):
    """Short sandbox delays, a fast status poll, and a thread that has the worker poll due orders."""
    from orders.tasks import poll_due_orders
    from sandbox import control

    settings.SANDBOX = True
    settings.SANDBOX_NUMBER_DELAY = 1
    settings.SANDBOX_CODE_DELAY = 2
    settings.SANDBOX_SMS_SENT_DELAY = 1
    settings.SANDBOX_SMS_DELIVERED_DELAY = 1.5
    settings.POLL_FAST_SECONDS = 0.3
    settings.POLL_MAX_BACKOFF_SECONDS = 1
    settings.STATUS_POLL_SECONDS = 0.5
    control.set_control({})
    stop = threading.Event()

    def poller():
        while not stop.is_set():
            poll_due_orders.delay()
            stop.wait(0.4)

    thread = threading.Thread(target=poller, name="test-poller", daemon=True)
    thread.start()
    yield live_server.url
    stop.set()
    thread.join(5)
    control.set_control({})


@contextmanager
def services_reloaded(page):
    """Around an action that loads another country's services: returns once htmx has swapped the new Service
    field in. The response alone is not enough: until the swap, the old field is still in the page and takes
    what a test types or selects, and the change it makes is lost with it."""
    page.eval_on_selector("#service-field", "field => field.setAttribute('data-replaced', '')")
    with page.expect_response(lambda r: "/catalog/services" in r.url):
        yield
    page.wait_for_selector("#service-field:not([data-replaced])", state="attached")


def choose(page, country, service):
    """Pick a country and a service the way a buyer does: the Service field and the price load by HTMX."""
    if page.input_value("#id_country") != str(country):
        with services_reloaded(page):
            page.select_option("#id_country", str(country))
        page.wait_for_selector(f'#id_service option[value="{service}"]', state="attached")
    with page.expect_response(lambda r: "/catalog/price" in r.url):
        page.select_option("#id_service", service)
    page.wait_for_selector("#price-box .price-amount")


def the_order(**filters):
    return Order.objects.filter(**filters).latest("created_at")


def wait_until(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def shoot(page, name):
    """With SHOTS_DIR set, save a screenshot of the page (to look at the states the tests reach)."""
    shots = os.environ.get("SHOTS_DIR")
    if shots:
        os.makedirs(shots, exist_ok=True)
        page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)
