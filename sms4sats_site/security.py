"""The Content-Security-Policy of the site (django-csp), with one relaxation for pages behind a login.

Every page gets ``CONTENT_SECURITY_POLICY`` from settings: scripts and styles from the site's own files
only, nothing inline. The Django admin (and the sandbox's test wallet, which never runs in production)
use inline ``<style>`` blocks and ``style=`` attributes (Django's own change list, the dashboard's SVG
charts), so their pages also allow inline *styles*; scripts stay ``'self'`` only everywhere. Pages served at
the onion address (over HTTP) drop ``upgrade-insecure-requests``.
"""

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware

from .onion import is_onion

INLINE_STYLE_PREFIXES = ("/admin/", "/sandbox/")


class ShopCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(INLINE_STYLE_PREFIXES) and not report_only:
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        if is_onion(request):
            # Plain HTTP by design (sms4sats_site/onion.py): upgrading would point at an https:// nobody serves.
            parts.replace = {**(parts.replace or {}), "upgrade-insecure-requests": None}
        return parts
