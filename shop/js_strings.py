"""The words static/shop.js shows, in the page's language: base.html puts them, as JSON, in the body's
``data-shop-strings`` attribute (data, not code: no inline script, so the CSP stays "scripts from files only").

Placeholders are ``%(name)s``, filled in by shop.js. A message with a number has one text per CLDR plural
category, because the browser chooses the category (``Intl.PluralRules``) for the page's language: each
is the catalog's form for a number of that category.
"""

import json

from django.conf import settings
from django.utils.translation import gettext, ngettext

# A number of each CLDR category in the shipped languages (en, es, pt-br, de: one, other; ru: one, few,
# many). The catalogs' Plural-Forms agree with CLDR on whole numbers, which are all shop.js counts.
CATEGORY_SAMPLES = {"one": 1, "few": 2, "many": 5, "other": 5}


def _plural(forms):
    """``forms(n)`` is the message's ngettext for n (written out in each caller, so that makemessages sees it)."""
    return {category: forms(n) for category, n in CATEGORY_SAMPLES.items()}


def js_strings_json():
    return json.dumps(js_strings(), ensure_ascii=False)


def js_strings():
    words = {
        "copied": gettext("Copied ✓"),
        "copyByHand": gettext("Select and copy it by hand"),
        "noMatch": {
            "country": gettext("No country matches “%(query)s”. The selection is unchanged."),
            "service": gettext("No service matches “%(query)s”. The selection is unchanged."),
        },
        "matches": {
            "country": _plural(
                lambda n: ngettext("%(count)s country matches “%(query)s”", "%(count)s countries match “%(query)s”", n)
            ),
            "service": _plural(
                lambda n: ngettext("%(count)s service matches “%(query)s”", "%(count)s services match “%(query)s”", n)
            ),
        },
        "matchSelected": gettext("%(matches)s: %(name)s selected."),
        "matchKept": gettext("%(matches)s."),
        "matchChoose": gettext("%(matches)s: choose one from the list."),
        "chooseOneOf": _plural(
            lambda n: ngettext("Choose one of the %(count)s match…", "Choose one of the %(count)s matches…", n)
        ),
        "counter": gettext("%(used)s / %(limit)s characters"),
        "tooLong": gettext("Too long by %(over)s (%(used)s / %(limit)s)"),
        "weblnConfirm": gettext("Confirm the payment in your browser wallet…"),
        "weblnSent": gettext("Your wallet sent the payment. The status updates as soon as it arrives."),
        "weblnFailed": gettext("Your wallet did not confirm. If you did pay, the status below updates by itself."),
        "offline": gettext("Connection lost. Retrying…"),
        "online": gettext("Connected again."),
        "notifyOn": gettext("On: this tab tells you when it arrives, even while you are in another one."),
        "notifyBlocked": gettext("Your browser blocks notifications from this shop. Allow them in its site settings."),
        "notifyCode": gettext("Your code: %(code)s"),
        "newSms": gettext("New SMS: %(code)s"),
    }
    if settings.SANDBOX:  # the sandbox wallet's button exists only then
        words.update(
            {
                "sandboxPaying": gettext("Paying with the sandbox wallet…"),
                "sandboxPaid": gettext("Paid with the sandbox wallet. Waiting for sms4sats to see it…"),
                "sandboxFailed": gettext("The sandbox wallet could not pay: %(reason)s."),
                "unknownReason": gettext("unknown reason"),
                "sandboxUnreachable": gettext("Could not reach the sandbox wallet. Try again."),
            }
        )
    return words
