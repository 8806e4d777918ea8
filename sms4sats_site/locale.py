"""What LocaleMiddleware leaves to the shop, run just after it (its response part runs just before it):

- The admin and the sandbox speak English whatever the browser asks: the operator's tools are written in
  English only, and Django's own admin strings would otherwise mix with them (Content-Language says "en").
- Every answer may depend on the language cookie (the switcher's choice beats Accept-Language), so it says
  ``Vary: Cookie`` as well as LocaleMiddleware's ``Vary: Accept-Language``, also where nothing else reads a
  cookie (the error pages): a shared cache must never hand one buyer's language to another.
"""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

ENGLISH_ONLY_PREFIXES = ("/admin/", "/sandbox/")


class ShopLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(ENGLISH_ONLY_PREFIXES):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response
