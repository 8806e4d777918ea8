"""The admin and the sandbox speak English whatever the browser asks: the operator's tools are written in
English only, and Django's own admin strings would otherwise mix with them. Runs after LocaleMiddleware,
which picked the buyer's language (its Content-Language header then says "en" here too)."""

from django.conf import settings
from django.utils import translation

ENGLISH_ONLY_PREFIXES = ("/admin/", "/sandbox/")


class EnglishOnlyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(ENGLISH_ONLY_PREFIXES):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return self.get_response(request)
