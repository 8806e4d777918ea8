"""Unchanged status polls answered below most of Django's middleware.

Nearly every request a busy shop serves is an open order page asking "anything new?" every 2 s, and nearly
every answer is an empty 204 (or the final 286) decided from the status cache alone
(``views.unchanged_from_cache``: one Redis round trip, no query). Through the whole middleware stack (sessions,
languages, CSRF, authentication, messages, compression, URL resolving) that empty answer cost about four times
what `/ping` costs (BENCHMARKS.md, "Where a status poll's time goes"). Here it passes only the middleware
that give an empty answer its headers: the security headers with HSTS and the onion rules, the CSP and
X-Frame-Options, in settings.MIDDLEWARE's order.

Everything else goes to the shop's whole stack, as before: another path or method, a poll without a version
(a first look), a host Django refuses, a poll whose page is behind (the part is rendered), a cache miss, Redis
away. An empty answer has no words: its Content-Language and ``Vary: Accept-Language`` are the only headers
that differ from the whole stack's (tests/test_lean_poll.py compares them).

Only under gunicorn (sms4sats_site/wsgi.py); tests and the admin reach the same view through the whole stack.
"""

import re

from django.conf import settings
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_script_name
from django.http import HttpResponse
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

from orders import metrics

from . import views

# The middleware an empty answer's headers come from (each must also be in settings.MIDDLEWARE).
HEADER_MIDDLEWARE = (
    "sms4sats_site.onion.OnionAwareSecurityMiddleware",
    "sms4sats_site.security.ShopCSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
# shop/urls.py's o/<uuid:public_id>/status, with Django's uuid converter's pattern.
STATUS_PATH = re.compile(r"/o/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/status")


class _WholeStack(HttpResponse):
    """The cache could not answer: the shop's whole stack does."""


class StatusPollHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        missing = [path for path in HEADER_MIDDLEWARE if path not in settings.MIDDLEWARE]
        if missing:
            raise ImproperlyConfigured(f"shop/lean_poll.py adds middleware that MIDDLEWARE lacks: {missing}")
        # What BaseHandler.load_middleware builds, for these (none has a view or exception hook).
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._unchanged)
        for path in sorted(HEADER_MIDDLEWARE, key=settings.MIDDLEWARE.index, reverse=True):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def _unchanged(self, request):
        answer, poll = views.unchanged_from_cache(request.public_id, request.META[views.VERSION_META_KEY])
        if answer is None:
            request.META[views.LEAN_POLL_META_KEY] = poll  # the environ the whole stack gets: it reuses the look
            return _WholeStack()
        metrics.count("status_partial_answers", str(answer.status_code))
        answer["Content-Length"] = "0"  # as CommonMiddleware says of every answer it sees
        return answer


def with_lean_status_poll(shop_application):
    """A WSGI application answering unchanged status polls itself and handing everything else to the shop."""
    handler = StatusPollHandler()

    def application(environ, start_response):
        match = STATUS_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "GET" or not environ.get(views.VERSION_META_KEY):
            return shop_application(environ, start_response)
        request = WSGIRequest(environ)
        try:
            request.get_host()
        except DisallowedHost:  # the shop answers 400, and logs it
            return shop_application(environ, start_response)
        request.public_id = match[1]
        set_script_prefix(get_script_name(environ))
        response = handler.get_response(request)
        if isinstance(response, _WholeStack):
            return shop_application(environ, start_response)
        # As WSGIHandler.__call__ does (an empty answer: no file to stream), without the request_started signal:
        # nothing here uses the database.
        cookies = [("Set-Cookie", cookie.OutputString()) for cookie in response.cookies.values()]
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items(), *cookies])
        return response

    return application
