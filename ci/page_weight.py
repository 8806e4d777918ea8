#!/usr/bin/env python
"""The weight of a first visit: a page and the stylesheets, scripts, icons and images it links, fetched the way a
browser with an empty cache does (Chromium's Accept-Encoding: gzip, deflate, br, zstd), counting the bytes on
the wire (compressed bodies and the response headers). Exits 1 when the total is over --max-kb.

    .venv/bin/python ci/page_weight.py https://localhost:18443/ [--ca root.crt] [--max-kb 45]

The CI compose stage runs it through the stack's Caddy (ci/compose_check.sh); it works against `make run` too.
Only assets of the page's own origin count (the shop links no other).
"""

import argparse
import sys
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

ACCEPT_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends; httpx decodes br (Brotli) and zstd


class AssetLinks(HTMLParser):
    """The URLs a browser fetches on its own while loading the page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        rel = (attrs.get("rel") or "").lower().split()
        if tag == "link" and attrs.get("href") and {"stylesheet", "icon", "preload", "modulepreload"} & set(rel):
            self.urls.append(attrs["href"])
        elif tag in ("script", "img") and attrs.get("src"):
            self.urls.append(attrs["src"])


def fetch(client, url):
    """(bytes on the wire, Content-Encoding, status, decoded text) of one GET."""
    with client.stream("GET", url, headers={"Accept-Encoding": ACCEPT_ENCODING}) as response:
        text = response.read().decode(response.encoding or "utf-8", errors="replace")
        head = sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + len("HTTP/1.1 200 OK\r\n\r\n")
        wire = response.num_bytes_downloaded + head
        return wire, response.headers.get("content-encoding", ""), response.status_code, text


def weigh(url, verify=True):
    """[(url, bytes on the wire, encoding, status)] for the page and each asset it links, the page first."""
    import httpx

    origin = urlsplit(url)[:2]
    with httpx.Client(verify=verify, timeout=20, follow_redirects=False) as client:
        wire, encoding, status, html = fetch(client, url)
        rows = [(url, wire, encoding, status)]
        parser = AssetLinks()
        parser.feed(html)
        seen = set()
        for link in parser.urls:
            asset = urljoin(url, link)
            if urlsplit(asset)[:2] != origin or asset in seen:
                continue
            seen.add(asset)
            wire, encoding, status, _ = fetch(client, asset)
            rows.append((asset, wire, encoding, status))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--ca", help="the CA certificate to trust (Caddy's local CA)")
    parser.add_argument("--max-kb", type=float, default=45.0, help="the most a first visit may transfer (KB = 1000)")
    args = parser.parse_args(argv)
    rows = weigh(args.url, verify=args.ca or True)
    total = sum(wire for _, wire, _, _ in rows)
    for url, wire, encoding, status in rows:
        print(f"  {status} {wire / 1000:7.1f} KB  {encoding or 'identity':8s} {url}")
    bad = [url for url, _, _, status in rows if status != 200]
    print(f"first visit: {total / 1000:.1f} KB in {len(rows)} requests (limit {args.max_kb:.0f} KB)")
    if bad:
        print(f"not 200: {bad}", file=sys.stderr)
        return 1
    if total > args.max_kb * 1000:
        print(f"page_weight: {total / 1000:.1f} KB is over {args.max_kb:.0f} KB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
