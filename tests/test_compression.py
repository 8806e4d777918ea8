"""Compressed pages: the home page's HTML is gzipped for a client that accepts it, static files get hashed names
cached for a year once collected, and ci/page_weight.py (the CI's first-visit weight) measures a real server."""

import gzip
import re

import httpx
import pytest
from django.core.management import call_command

from ci import page_weight

pytestmark = pytest.mark.django_db


def test_home_page_html_is_gzipped_when_the_client_accepts_it(client, upstream):
    response = client.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    html = gzip.decompress(response.content).decode()
    assert "Order number" in html
    assert len(response.content) < len(html) / 2


def test_home_page_is_not_compressed_for_a_client_that_does_not_accept_it(client, upstream):
    response = client.get("/")
    assert not response.has_header("Content-Encoding")
    assert "Order number" in response.content.decode()


def test_compressed_page_keeps_the_security_headers_and_a_fresh_csrf_token(client, upstream):
    """BREACH: the CSRF token in the page is masked anew in every answer, so no secret repeats between two
    compressed answers."""
    first, second = (client.get("/", HTTP_ACCEPT_ENCODING="gzip") for _ in range(2))
    tokens = [
        re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', gzip.decompress(r.content).decode()).group(1)
        for r in (first, second)
    ]
    assert tokens[0] != tokens[1]
    assert first["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in first["Content-Security-Policy"]


def test_collected_static_files_have_hashed_names_cached_for_a_year(client, upstream, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)
    html = client.get("/").content.decode()
    css = re.search(r'href="(/static/shop\.[0-9a-f]{12}\.css)"', html)
    assert css, "the page links the plain shop.css, not its hashed name"
    response = client.get(css.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Content-Encoding"] == "gzip"  # the precompressed copy
    b"".join(response.streaming_content)


def test_page_weight_counts_the_page_and_its_assets_compressed(live_server, upstream):
    rows = page_weight.weigh(live_server.url + "/")
    urls = [url for url, *_ in rows]
    assert urls[0] == live_server.url + "/"
    assert any(url.endswith(".css") for url in urls) and any(url.endswith("shop.js") for url in urls)
    assert all(status == 200 for *_, status in rows)
    # The page counts compressed (the live server serves static files around the middleware, uncompressed).
    assert rows[0][2] == "gzip"
    plain = httpx.get(live_server.url + "/", headers={"Accept-Encoding": "identity"})
    assert rows[0][1] < len(plain.content) / 2
    assert page_weight.main([live_server.url + "/", "--max-kb", "1"]) == 1
    assert page_weight.main([live_server.url + "/", "--max-kb", "500"]) == 0
