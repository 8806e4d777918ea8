"""The buyer's choice of the fiat currency shown beside the sats (orders/fiat.py): a small form, no
JavaScript, remembered in a cookie (no session: a browser gets one only when it places an order)."""

from django import forms
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from orders import fiat
from shopsettings import runtime

CURRENCY_NAMES = {
    "USD": _("US dollar"),
    "EUR": _("Euro"),
    "GBP": _("British pound"),
    "BRL": _("Brazilian real"),
    "RUB": _("Russian ruble"),
    "CHF": _("Swiss franc"),
    "CAD": _("Canadian dollar"),
    "AUD": _("Australian dollar"),
    "JPY": _("Japanese yen"),
}


class CurrencyForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"))
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [
            (code, f"{code} · {CURRENCY_NAMES[code]}" if code in CURRENCY_NAMES else code)
            for code in runtime.get("FIAT_CURRENCIES")
        ]


def _safe_next(request, url):
    # Only a path on this site: "0" or "home" would be read by redirect() as a view name (NoReverseMatch).
    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=False
    ):
        return url
    return reverse("orders:home")


@require_http_methods(["GET", "POST"])
def choose_currency(request):
    rates = fiat.current_rates()
    if request.method == "POST":
        form = CurrencyForm(request.POST)
        if form.is_valid():
            response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"]))
            response.set_cookie(
                fiat.COOKIE,
                form.cleaned_data["currency"],
                max_age=fiat.COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
            return response
    else:
        form = CurrencyForm(
            initial={"currency": fiat.buyer_currency(request, rates) or "", "next": request.GET.get("next", "")[:2000]}
        )
    return render(
        request,
        "orders/currency.html",
        {"form": form, "rates_available": bool(rates), "fiat_on": bool(settings.FIAT_RATES_URL)},
    )
