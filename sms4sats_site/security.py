"""The Content-Security-Policy of the site (django-csp), with one relaxation for pages behind a login.

Every page gets ``CONTENT_SECURITY_POLICY`` from settings: scripts and styles from the site's own files
only, nothing inline. The Django admin (and the sandbox's test wallet, which never runs in production)
use inline ``<style>`` blocks and ``style=`` attributes (Django's own change list, the dashboard's SVG
charts), so their pages also allow inline *styles*; scripts stay ``'self'`` only everywhere. Pages served at
the onion address (over HTTP) drop ``upgrade-insecure-requests``.
"""

from dataclasses import asdict

from csp.constants import HEADER, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed

from .onion import is_onion

INLINE_STYLE_PREFIXES = ("/admin/", "/sandbox/")
# What a view or decorator can set on a response to change its policy (django-csp's per-view decorators).
PER_RESPONSE_POLICY = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt")

# The header built so far, by (inline styles allowed, onion): the policy depends on nothing else here, and
# building it (a deep copy of the settings, then sorting and joining) was about a tenth of the status poll's
# 204 (BENCHMARKS.md, issue #28). Emptied when a test changes the settings.
_policies = {}


def _forget_policies(**kwargs):
    _policies.clear()


setting_changed.connect(_forget_policies)


class ShopCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        """django-csp's, with the header built once per process and variant. Anything that makes a policy
        per answer (a nonce, a per-view decorator, a report-only policy, excluded prefixes, DEBUG's error
        pages) takes django-csp's own path."""
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in PER_RESPONSE_POLICY)
            or HEADER in response
            or settings.DEBUG
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or "EXCLUDE_URL_PREFIXES" in settings.CONTENT_SECURITY_POLICY
        ):
            return super().process_response(request, response)
        variant = (request.path_info.startswith(INLINE_STYLE_PREFIXES), is_onion(request))
        policy = _policies.get(variant)
        if policy is None:
            policy = _policies[variant] = build_policy(**asdict(self.get_policy_parts(request, response)))
        if policy:
            response[HEADER] = policy
        # As django-csp: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(INLINE_STYLE_PREFIXES) and not report_only:
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        if is_onion(request):
            # Plain HTTP by design (sms4sats_site/onion.py): upgrading would point at an https:// nobody serves.
            parts.replace = {**(parts.replace or {}), "upgrade-insecure-requests": None}
        return parts
