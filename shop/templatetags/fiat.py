"""``{% fiat_equivalent sats as fiat %}``: the buyer's fiat equivalent of an amount (orders/fiat.py), or None."""

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from orders import fiat

register = template.Library()


@register.simple_tag(takes_context=True)
def fiat_equivalent(context, sats):
    return fiat.for_request(context.get("request"), sats)


@register.simple_tag(takes_context=True)
def currency_choice_url(context):
    """The currency page, coming back to this page afterwards (for an HTMX part: the page that shows it)."""
    request = context.get("request")
    htmx = getattr(request, "htmx", None)
    here = (htmx.current_url_abs_path if htmx else None) or (request.get_full_path() if request else "")
    url = reverse("orders:currency")
    return f"{url}?{urlencode({'next': here})}" if here else url
