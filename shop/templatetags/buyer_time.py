"""Times and codes as the buyer's browser and screen reader need them.

``{% time_left moment %}``: the time until ``moment`` ("13 days, 23 hours"), in a span that static/shop.js
counts down from its data-until (an ISO UTC timestamp). ``{{ code|spoken }}``: the code with its digits spaced,
for a visually hidden copy, so that a screen reader reads "4 8 2 9" instead of "four thousand…" (letters and
words stay as they are: "G-1 2 3").
"""

import re

from django import template
from django.template.defaultfilters import timeuntil
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def time_left(moment):
    if moment is None:  # an active rental whose end sms4sats has not said yet
        return ""
    return format_html('<span data-until="{}">{}</span>', moment.isoformat(), timeuntil(moment))


@register.filter
def spoken(code):
    return re.sub(r"(?<=\d)\s*(?=\d)", " ", str(code or ""))
