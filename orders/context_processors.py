from django.conf import settings

from . import catalog


def shop(request):
    return {
        "SANDBOX": settings.SANDBOX,
        # A callable: the template calls it (one cache read) only where it is used, never in the status partial.
        "CATALOG_UNAVAILABLE": catalog.unavailable_reason,
        "AUTO_CANCEL_MINUTES": settings.AUTO_CANCEL_SECONDS // 60,
    }
