from django.conf import settings

from . import catalog, upstream_health


def upstream_trouble():
    """The banner's text when sms4sats is not answering (the engine's shared view, or the catalog's last
    read failed); else None."""
    if upstream_health.is_down():
        return "sms4sats is not answering right now."
    return catalog.unavailable_reason()


def shop(request):
    return {
        "SANDBOX": settings.SANDBOX,
        # A callable: the template calls it (one cache read) only where it is used, never in the status partial.
        "CATALOG_UNAVAILABLE": upstream_trouble,
        "AUTO_CANCEL_MINUTES": settings.AUTO_CANCEL_SECONDS // 60,
    }
