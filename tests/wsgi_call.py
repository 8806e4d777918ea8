"""Calling a WSGI application directly, as gunicorn does (the lean handlers under sms4sats_site/wsgi.py)."""

import io
from wsgiref.util import setup_testing_defaults

from django.core import signals
from django.db import close_old_connections


def call(application, path, query="", headers=None, method="GET", host="localhost", environ=None):
    """(status line, headers as a dict, body) of ``application``'s answer."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "HTTP_HOST": host,
        **(environ or {}),
    }
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()})
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO(b"")
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    # As Django's test client does: the handler's signals would close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body
