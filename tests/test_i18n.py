"""The buyer pages in five languages: the catalogs are complete against the source, the plural forms are right,
the language comes from the browser or the switcher's cookie, numbers are formatted per language only where
they are shown, and the admin stays English.

The catalogs' test runs Django's makemessages (GNU gettext: xgettext, msgmerge) on a copy of the sources.
"""

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from orders.models import Kind, Status, format_duration
from tests.factories import make_order

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["es", "pt_BR", "de", "ru"]
PLURAL_FORMS = {
    "es": "nplurals=2; plural=(n != 1);",
    "pt_BR": "nplurals=2; plural=(n > 1);",
    "de": "nplurals=2; plural=(n != 1);",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
}


def catalog(lang, root=ROOT):
    return polib.pofile(str(root / "locale" / lang / "LC_MESSAGES" / "django.po"))


# The catalogs ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The catalogs as bin/make_messages.sh leaves them for the sources as they are now (on a copy)."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        if os.environ.get("CI"):  # .ci/run installs gettext: missing there is a failure, not a skip
            pytest.fail("GNU gettext (xgettext, msgmerge) is not installed")
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    copy = tmp_path_factory.mktemp("sources") / "shop"
    ignore = shutil.ignore_patterns(".*", "var", "staticfiles", "__pycache__", "*.mo", "bench", "tests", "docs")
    shutil.copytree(ROOT, copy, ignore=ignore)
    env = {**os.environ, "PYTHON": sys.executable, "VAR_DIR": str(copy / "var")}
    result = subprocess.run(["bash", "bin/make_messages.sh"], cwd=copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return copy


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_buyer_string_is_translated(extracted, lang):
    fresh = catalog(lang, extracted)
    untranslated = [e.msgid for e in fresh.untranslated_entries()]
    fuzzy = [e.msgid for e in fresh.fuzzy_entries()]
    assert not untranslated, f"{lang}: not translated (run bin/make_messages.sh and translate): {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy (the English changed; check the translation): {fuzzy}"
    assert len(fresh) > 250  # the whole checkout, not an empty extraction
    # The committed catalog is the fresh one: no message missing from it, none left over.
    committed = {(e.msgctxt, e.msgid) for e in catalog(lang) if not e.obsolete}
    assert {(e.msgctxt, e.msgid) for e in fresh if not e.obsolete} == committed


@pytest.mark.parametrize("lang", SHIPPED)
def test_plural_forms_are_the_languages(lang):
    po = catalog(lang)
    assert po.metadata["Plural-Forms"] == PLURAL_FORMS[lang]
    nplurals = int(PLURAL_FORMS[lang].split("nplurals=")[1][0])
    plurals = [e for e in po if e.msgid_plural]
    assert len(plurals) >= 15
    for entry in plurals:
        forms = [entry.msgstr_plural.get(i, "") for i in range(nplurals)]
        assert all(forms), f"{lang}: {entry.msgid!r} lacks a plural form"
        assert sorted(entry.msgstr_plural) == list(range(nplurals)), f"{lang}: {entry.msgid!r} has extra forms"


@pytest.mark.parametrize("lang", SHIPPED)
def test_placeholders_and_markup_survive_translation(lang):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    tag = re.compile(r"</?[a-z]+")
    for entry in catalog(lang):
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            if not text:
                continue
            assert set(placeholder.findall(text)) == set(placeholder.findall(entry.msgid)), (lang, entry.msgid)
            assert sorted(tag.findall(text)) == sorted(tag.findall(entry.msgid)), (lang, entry.msgid)


def test_compiling_leaves_fuzzy_guesses_out_and_only_redoes_what_changed(tmp_path):
    compile_messages = runpy.run_path(str(ROOT / "bin" / "compile_messages.py"))["compile_messages"]
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": PLURAL_FORMS["ru"]}
    po.append(polib.POEntry(msgid="Copy", msgstr="Копировать"))
    po.append(polib.POEntry(msgid="Refunded", msgstr="Оплачено", flags=["fuzzy"]))  # a wrong guess
    path = tmp_path / "django.po"
    po.save(str(path))
    assert compile_messages(po_paths=[path]) == [tmp_path / "django.mo"]
    compiled = {entry.msgid: entry.msgstr for entry in polib.mofile(str(tmp_path / "django.mo"))}
    assert compiled == {"Copy": "Копировать"}  # "Refunded" stays English rather than say something false
    assert compile_messages(po_paths=[path]) == []  # up to date
    assert compile_messages(force=True, po_paths=[path]) == [tmp_path / "django.mo"]


def test_russian_has_three_plural_forms_in_use():
    with translation.override("ru"):
        assert [format_duration(n * 60) for n in (1, 2, 5, 21, 22, 25, 11)] == [
            "1 минута",
            "2 минуты",
            "5 минут",
            "21 минута",
            "22 минуты",
            "25 минут",
            "11 минут",
        ]
    with translation.override("pt-br"):
        assert format_duration(60) == "1 minuto" and format_duration(120) == "2 minutos"


# The language of a page ---------------------------------------------------------------------------------------


def test_the_browsers_language_is_used_and_said(client, upstream):
    response = client.get("/", headers={"accept-language": "es-ES,es;q=0.9,en;q=0.5"})
    html = response.content.decode()
    assert '<html lang="es">' in html
    assert "Consigue un número de un solo uso para un código SMS" in html
    assert response["Content-Language"] == "es"
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"accept-language", "cookie"} <= vary  # a shared cache keeps one copy per language and cookie
    assert response["Content-Security-Policy"].count("script-src 'self'") == 1


@pytest.mark.parametrize("header", ["", "en-US,en;q=0.9", "fr-FR,fr;q=0.9", "ja", "xx-invalid;;q=abc"])
def test_english_for_english_or_unknown_browsers(client, upstream, header):
    html = client.get("/", headers={"accept-language": header} if header else {}).content.decode()
    assert '<html lang="en">' in html
    assert "Get a one-time number for an SMS code" in html


def test_brazilian_portuguese_from_its_browser(client):
    html = client.get(reverse("orders:how"), headers={"accept-language": "pt-BR,pt;q=0.8"}).content.decode()
    assert '<html lang="pt-br">' in html and "Faturas retidas" in html


def test_the_switcher_is_a_post_form_with_csrf_on_every_buyer_page(client, upstream):
    for url in [
        "/",
        reverse("orders:send"),
        reverse("orders:rent"),
        reverse("orders:my_orders"),
        reverse("orders:how"),
    ]:
        html = client.get(url).content.decode()
        form = re.search(r'<form class="language-form" method="post" action="/language/">(.*?)</form>', html, re.S)
        assert form, url
        assert 'name="csrfmiddlewaretoken"' in form.group(1)
        assert f'name="next" value="{url}"' in form.group(1)
        names = re.findall(r'<option value="([a-z-]+)" lang="\1"[^>]*>([^<]+)</option>', form.group(1))
        assert names == [
            ("en", "English"),
            ("es", "Español"),
            ("pt-br", "Português (Brasil)"),
            ("de", "Deutsch"),
            ("ru", "Русский"),
        ]
        assert '<option value="en" lang="en" selected>' in form.group(1)
    order = make_order()
    assert f'name="next" value="{order.get_absolute_url()}"' in client.get(order.get_absolute_url()).content.decode()


def test_the_switcher_remembers_the_choice_over_the_browsers_language(client, upstream):
    order = make_order()
    response = client.post(reverse("set_language"), {"language": "ru", "next": order.get_absolute_url()})
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "ru" and cookie["max-age"] == 365 * 24 * 3600 and cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    html = client.get(order.get_absolute_url(), headers={"accept-language": "de"}).content.decode()
    assert '<html lang="ru">' in html and "Оплатите через Lightning" in html
    assert '<option value="ru" lang="ru" selected>' in html


def test_the_switcher_refuses_unknown_languages_and_foreign_next(client):
    response = client.post(reverse("set_language"), {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_switcher_needs_its_csrf_token(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_admin_stays_english(admin_client):
    response = admin_client.get("/admin/", headers={"accept-language": "ru"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en"' in html and "Log out" in html and "Выйти" not in html
    assert response["Content-Language"] == "en"


# What the pages say, per language -------------------------------------------------------------------------------


def test_unpaid_order_in_russian_groups_the_sats_but_not_the_data(client):
    order = make_order(quoted_sats=12345, invoice_sats=12345)
    html = client.get(order.get_absolute_url(), headers={"accept-language": "ru"}).content.decode()
    assert '<span class="amount-value">12\xa0345</span>' in html  # the shown amount: Russian grouping
    assert "блокирует 12\xa0345 sats в вашем кошельке, не тратя их" in html  # the hold invoice, truthfully
    assert re.search(r'data-countdown="\d+"', html)  # numbers for shop.js stay plain
    assert f'hx-get="/o/{order.public_id}/status"' in html  # and the URLs are the same in every language
    assert '"X-Order-Version": "' in html
    strings = json.loads(unescape(re.search(r'data-shop-strings="([^"]*)"', html).group(1)))
    assert strings["chooseOneOf"] == {
        "one": "Выберите из %(count)s совпадения…",
        "few": "Выберите из %(count)s совпадений…",
        "many": "Выберите из %(count)s совпадений…",
        "other": "Выберите из %(count)s совпадений…",
    }
    assert strings["matches"]["country"]["few"] == "%(count)s страны подходят под «%(query)s»"


def test_each_language_groups_the_sats_its_way(client):
    order = make_order(quoted_sats=12345, invoice_sats=12345)
    for lang, text in [("es", "12\xa0345"), ("de", "12.345"), ("pt-br", "12.345"), ("en", "12,345")]:
        html = client.get(order.get_absolute_url(), headers={"accept-language": lang}).content.decode()
        assert f'<span class="amount-value">{text}</span>' in html, lang


@pytest.mark.parametrize(
    "lang, words",
    [
        ("es", ["Tu pago está bloqueado, no gastado.", "Solo se cobra cuando llega el código."]),
        ("pt-br", ["Seu pagamento está bloqueado, não gasto.", "Ele só é cobrado quando o código chega."]),
        ("de", ["Deine Zahlung ist gesperrt, nicht ausgegeben.", "Sie wird erst abgebucht, wenn der Code ankommt."]),
        ("ru", ["Ваш платёж заблокирован, а не потрачен.", "Он списывается только когда придёт код."]),
    ],
)
def test_a_held_payment_is_locked_not_spent_in_every_language(client, lang, words):
    html = client.get(
        make_order(Status.WAITING_CODE, number="4915112345678").get_absolute_url(), headers={"accept-language": lang}
    ).content.decode()
    for text in words:
        assert text in html


def test_form_errors_and_messages_in_spanish(client, upstream):
    response = client.post(
        reverse("orders:send"), {"phone": "7911 123456", "message": ""}, headers={"accept-language": "es"}
    )
    html = response.content.decode()
    assert "Empieza con + y el prefijo del país, por ejemplo +44 7911 123456." in html
    assert "Escribe el mensaje que quieres enviar." in html


def test_plural_in_the_order_title(client):
    for weeks, title in [(1, "1 неделя"), (2, "2 недели"), (5, "5 недель")]:
        order = make_order(Status.HELD, kind=Kind.RENTAL, rental_weeks=weeks)
        html = client.get(order.get_absolute_url(), headers={"accept-language": "ru"}).content.decode()
        assert f"<h1>Соединенные Штаты · {title}</h1>" in html  # the country in Russian too


def test_receipt_file_in_german(client):
    order = make_order(Status.COMPLETED, number="4915112345678", code="482913", payment_hash="ab" * 32)
    text = client.get(reverse("orders:receipt_file", args=[order.public_id]), headers={"accept-language": "de"})
    body = text.content.decode()
    assert body.startswith("Beleg · SMS for sats")
    assert "Einmalnummer für einen SMS-Code: Telegram, Vereinigte Staaten" in body
    # One column after the longest label ("Bezahlter Betrag:"); the file keeps plain digits.
    assert "Bezahlter Betrag:  1500 sats (Lightning)" in body
    assert f"Zahlungs-Hash:     {'ab' * 32}" in body
    assert "Nummer:            +4915112345678" in body


def test_error_pages_in_the_chosen_language_vary_by_it(client):
    response = client.get("/o/not-a-uuid/", headers={"accept-language": "ru"})
    assert response.status_code == 404
    html = response.content.decode()
    assert "Такой страницы нет" in html and "Ошибка 404" in html
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"accept-language", "cookie"} <= vary  # the language cookie decides too, even here
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    assert (
        "Diese Seite gibt es nicht" in client.get("/o/not-a-uuid/", headers={"accept-language": "ru"}).content.decode()
    )
