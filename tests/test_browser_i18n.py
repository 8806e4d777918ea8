"""The checkout in Spanish and in Russian, in a real browser whose language is set (Playwright's locale, which
sends Accept-Language), on a phone-sized screen: home → pick → order → invoice → pay in the sandbox wallet →
number → code, with nothing wider than the screen; and the language switcher, with and without JavaScript.

Run: bin/with_redis.py .venv/bin/pytest -m browser tests/test_browser_i18n.py
(SHOTS_DIR=... saves the screenshots: i18n-<lang>-home, -invoice, -code.)
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import fiat
from orders.models import Kind, Status
from orders.tasks import refresh_fiat_rates
from tests.browser import choose, shoot, the_order, wait_until
from tests.factories import make_order

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# What each language must say along the way (the browser's locale → the page's words).
CHECKOUT = {
    "es-ES": {
        "lang": "es",
        "title": "Consigue un número de un solo uso para un código SMS",
        "order": "Pedir número",
        "pay_title": "Paga con Lightning",
        "expires": "La factura caduca en",
        "hold": "Es una factura retenida (hold invoice): al pagarla se bloquean",
        "sandbox": "Pagar con el monedero de pruebas",
        "locked": "Tu pago está bloqueado, no gastado.",
        "code_title": "Tu código",
        "charged": "se cobró ahora que llegó el código",
        "grouping": "\xa0",
        "currency": ("EUR", "EUR: cambiar la moneda"),
    },
    "ru-RU": {
        "lang": "ru",
        "title": "Одноразовый номер для получения SMS-кода",
        "order": "Заказать номер",
        "pay_title": "Оплатите через Lightning",
        "expires": "Счёт истекает через",
        "hold": "Это холд-счёт (hold invoice): оплата блокирует",
        "sandbox": "Оплатить тестовым кошельком",
        "locked": "Ваш платёж заблокирован, а не потрачен.",
        "code_title": "Ваш код",
        "charged": "списан, так как код пришёл",
        "grouping": "\xa0",
        "currency": ("RUB", "RUB: сменить валюту"),
    },
}


def overflowing(page):
    """Elements whose content is wider than their box (clipped or spilling text, cut placeholders), and the
    page's own width."""
    return page.evaluate(
        """() => {
            const wide = document.documentElement.scrollWidth > window.innerWidth ? ["the page"] : [];
            for (const el of document.querySelectorAll("body *")) {
                const style = getComputedStyle(el);
                const scrolls = style.overflowX === "auto" || style.overflowX === "scroll";
                if (!el.clientWidth || style.display === "none" || scrolls) continue;
                if (el.closest("[hidden], .visually-hidden, details:not([open]) > :not(summary)")) continue;
                if (el.scrollWidth > el.clientWidth + 1) {
                    wide.push(el.tagName.toLowerCase() + ": " + el.textContent.trim().slice(0, 60));
                }
            }
            const canvas = document.createElement("canvas").getContext("2d");
            for (const input of document.querySelectorAll("input[placeholder]:not([hidden])")) {
                const style = getComputedStyle(input);
                canvas.font = style.font;
                const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
                if (canvas.measureText(input.placeholder).width > room) wide.push("placeholder: " + input.placeholder);
            }
            return wide;
        }"""
    )


@pytest.mark.parametrize("locale", CHECKOUT.keys())
def test_a_foreign_browser_sees_the_checkout_in_its_language(shop, new_page, settings, locale):
    words = CHECKOUT[locale]
    settings.FIAT_RATES_URL = shop + settings.FIAT_RATES_PATH  # the fiat amount too: the longest price line
    refresh_fiat_rates.delay()
    assert wait_until(lambda: fiat.current_rates().get(words["currency"][0]), 15)
    page = new_page(locale=locale, viewport=PHONE)
    page.goto(shop + "/")
    assert page.get_attribute("html", "lang") == words["lang"]
    assert page.inner_text("h1") == words["title"]
    assert overflowing(page) == []
    choose(page, 43, "tg")
    currency = page.locator("#price-box .fiat-currency")  # the language's currency, the link said in its words
    assert (currency.inner_text(), currency.get_attribute("aria-label")) == words["currency"]
    assert overflowing(page) == []
    shoot(page, f"i18n-{words['lang']}-home")
    price = page.inner_text("#price-box .price-amount")
    page.get_by_role("button", name=words["order"]).click()

    page.wait_for_selector(".qr-svg")
    page.evaluate("window.__sameDocument = 'yes'")
    order = the_order(kind=Kind.RECEIVE)
    assert order.status == Status.UNPAID
    sats = f"{order.invoice_sats:,}".replace(",", words["grouping"])
    assert price == sats and page.inner_text(".amount-value") == sats  # the locale's grouping
    status = page.inner_text("#order-status")
    assert words["pay_title"] in status and words["expires"] in status and words["hold"] in status
    assert page.inner_text(".amount .fiat-currency") == words["currency"][0]
    assert page.get_attribute("a.btn-primary", "href") == "lightning:" + order.bolt11  # data stays data
    assert overflowing(page) == []
    shoot(page, f"i18n-{words['lang']}-invoice")

    page.get_by_role("button", name=words["sandbox"]).click()
    page.wait_for_selector("[data-number]")
    assert words["locked"] in page.inner_text("#order-status")
    code = page.wait_for_selector("[data-code]").inner_text()
    assert page.inner_text(".status-title") == words["code_title"]
    assert words["charged"] in page.inner_text("#order-status")
    order.refresh_from_db()
    assert order.status == Status.COMPLETED and code == order.code
    assert page.evaluate("window.__sameDocument") == "yes"  # the live part swapped in, in the same language
    assert overflowing(page) == []
    shoot(page, f"i18n-{words['lang']}-code")


def test_the_search_and_the_counter_speak_the_pages_language(shop, new_page):
    page = new_page(locale="ru-RU", viewport=PHONE)
    page.goto(shop + "/")
    page.wait_for_selector("#country-filter:not([hidden])")
    page.fill("#country-filter", "united")
    page.wait_for_selector("#country-filter-status:not([hidden])")
    assert page.inner_text("#country-filter-status") == "4 страны подходят под «united»: выберите вариант из списка."
    assert page.inner_text("#id_country option >> nth=0") == "Выберите из 4 совпадений…"
    page.fill("#country-filter", "zzz")
    assert page.inner_text("#country-filter-status") == "Ни одна страна не подходит под «zzz». Выбор не изменился."

    page = new_page(locale="es-ES", viewport=PHONE)
    page.goto(shop + "/send/")
    page.fill("#id_message", "Hola")
    assert page.inner_text("#message-counter") == "4 / 140 caracteres"
    order = make_order(Status.WAITING_CODE, number="4915112345678")
    page.goto(shop + order.get_absolute_url())
    page.get_by_role("button", name="Copiar número").click()
    page.wait_for_selector("[data-number] ~ button.copied, button.copied")
    assert page.inner_text("button.copied") in ("Copiado ✓", "Selecciónalo y cópialo a mano")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_switcher_changes_and_remembers_the_language(shop, new_page, javascript):
    page = new_page(locale="en-US", viewport=PHONE, java_script_enabled=javascript)
    order = make_order()
    page.goto(shop + order.get_absolute_url())
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_by_role("heading", name="Pay with Lightning").is_visible()
    # With the keyboard only: to the list, choose, Tab to its button, Enter.
    page.focus("#language-select")
    page.select_option("#language-select", "de")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches('.language-form button[type=submit]')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == shop + order.get_absolute_url()  # back on the same page, same address
    assert page.get_attribute("html", "lang") == "de"
    assert page.get_by_role("heading", name="Mit Lightning bezahlen").is_visible()
    assert page.input_value("#language-select") == "de"
    # Remembered: another page, and a new tab of the same browser, whatever the browser's language says.
    page.goto(shop + "/how-it-works/")
    assert page.inner_text("h1") == "So funktioniert's"
    other_tab = page.context.new_page()
    other_tab.goto(shop + "/")
    assert other_tab.get_attribute("html", "lang") == "de"
    assert overflowing(other_tab) == []


@pytest.mark.parametrize(("locale", "lang"), [("es-ES", "es"), ("pt-BR", "pt-br"), ("de-DE", "de"), ("ru-RU", "ru")])
def test_no_buyer_page_is_too_narrow_for_its_words_on_a_phone(
    sandbox_url, live_server, settings, new_page, locale, lang
):
    settings.SANDBOX = True
    paid = {"number": "4915112345678"}
    orders = [
        make_order(Status.WAITING_CODE, **paid),
        make_order(Status.COMPLETED, code="482913", payment_hash="ab" * 32, **paid),
        make_order(Status.REFUNDED, refund_reason="timeout"),
        make_order(Status.HELD, kind=Kind.SEND, sms_status="created"),
        make_order(Status.WAITING_CODE, paid_from_balance=True, **paid),  # the shop paid: "nothing to pay"
        make_order(
            Status.ACTIVE, kind=Kind.RENTAL, rental_weeks=2, rental_ends_at=timezone.now() + timedelta(days=9), **paid
        ),
    ]
    urls = ["/", "/send/", "/rent/", "/orders/", "/how-it-works/", "/no-such-page/"]
    urls += [order.get_absolute_url() for order in orders] + [orders[1].get_absolute_url() + "receipt"]
    page = new_page(locale=locale, viewport=PHONE)
    wide = {}
    for url in urls:
        page.goto(live_server.url + url)
        assert page.get_attribute("html", "lang") == lang
        if found := overflowing(page):
            wide[url] = found
    assert wide == {}
