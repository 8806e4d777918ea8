"""The sandbox's API answered without the shop's middleware (sessions, languages, CSRF, CSP, compression…).

The sandbox stands in for sms4sats, another machine's work; served through the shop's whole middleware stack,
each of its answers cost this machine about a quarter more CPU than the answer itself, and under ``make run``
and in the benches it shares the cores with the shop it simulates (BENCHMARKS.md, Workers). Its API views
use none of that middleware: they read the query, the body and the API key, and answer JSON.

Only under gunicorn (sms4sats_site/wsgi.py, with SANDBOX on): tests reach the same views through the whole
stack, and tests/test_sandbox_wsgi.py checks that both answer alike.
"""

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with no middleware: URL resolution, the view, the signals; nothing else."""

    def load_middleware(self, is_async=False):
        # What BaseHandler.load_middleware leaves behind for an empty MIDDLEWARE.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


def with_lean_api(shop_application):
    """A WSGI application that sends the sandbox API's requests to ApiHandler and the rest to the shop."""
    api = ApiHandler()
    prefix = settings.SANDBOX_API_PATH.rstrip("/") + "/"

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(prefix):
            return api(environ, start_response)
        return shop_application(environ, start_response)

    return application
