from django.conf import settings
from django.utils.translation import gettext

from orders import catalog
from orders.sms4sats import upstream_health
from shopsettings import runtime
from sms4sats_site.shop_identity import shop_identity

from .js_strings import js_strings_json


def upstream_trouble():
    """The banner's text when sms4sats is not answering (the engine's shared view, or the catalog's last
    read failed); else None."""
    if upstream_health.is_down():
        return gettext("sms4sats is not answering right now.")
    return catalog.unavailable_reason()


# The sms4sats Lightning node, for buyers who need a direct channel to pay (docs: "Node Info").
SMS4SATS_NODE_PUBKEY = "035b04e00521a8d50894e813c72576d2a03a09cd940be074b7f2e35e0a01d7d12d"


def shop(request):
    return {
        "SANDBOX": settings.SANDBOX,
        # A callable: the template calls it (one cache read) only where it is used, never in the status partial.
        "CATALOG_UNAVAILABLE": upstream_trouble,
        # The one place it is computed: the buyer pages, the status part and the admin all read it from here.
        "AUTO_CANCEL_MINUTES": settings.AUTO_CANCEL_SECONDS // 60,
        "SMS4SATS_NODE_PUBKEY": SMS4SATS_NODE_PUBKEY,
        # A callable too: shop.js's words in the page's language, read only by base.html.
        "JS_STRINGS": js_strings_json,
        # Who runs the shop: the footer, refunds and failures, receipts, error pages.
        "SHOP": shop_identity(runtime.get),
    }
