"""The sandbox's API under gunicorn skips the shop's middleware (sandbox/wsgi.py): the same answers as through
the whole stack, none of the shop's per-request work, and the shop's own pages keep all of it."""

import json

import pytest

from sandbox.wsgi import with_lean_api
from tests.wsgi_call import call

pytestmark = pytest.mark.django_db


def test_the_api_answers_alike_without_the_shops_middleware(client, settings):
    from django.core.wsgi import get_wsgi_application

    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    key = {"X-API-Key": settings.SANDBOX_API_KEY}
    created = client.post(
        f"{settings.SANDBOX_API_PATH}/createorder",
        data=json.dumps({"country": 43, "service": "tg"}),
        content_type="application/json",
        headers=key,
    ).json()
    order_query = f"orderId={created['orderId']}"
    shop = get_wsgi_application()
    lean = with_lean_api(shop)

    for path, query in (
        (f"{settings.SANDBOX_API_PATH}/orderstatus", order_query),
        (f"{settings.SANDBOX_API_PATH}/nope", ""),
    ):
        full_status, full_headers, full_body = call(shop, path, query, key)
        status, headers, body = call(lean, path, query, key)
        assert (status, json.loads(body)) == (full_status, json.loads(full_body))
        assert headers["Content-Type"] == "application/json"
        assert "Content-Security-Policy" in full_headers and "Content-Security-Policy" not in headers  # skipped
    assert json.loads(call(lean, f"{settings.SANDBOX_API_PATH}/orderstatus", order_query, key)[2]) == {
        "status": "OK",
        "paid": False,
    }
    # Everything else still goes through the shop's middleware.
    status, headers, _ = call(lean, "/ping")
    assert status.startswith("200") and "Content-Security-Policy" in headers
