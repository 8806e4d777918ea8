"""Onion mode: the shop also answers at its Tor v3 address (ONION_ADDRESS), over plain HTTP.

Tor encrypts and authenticates the connection end to end (the address is the service's public key), so
HTTPS adds nothing there and no certificate authority would sign for it. A request for the onion host is
therefore served over HTTP: no redirect to https://, no HSTS, no ``upgrade-insecure-requests`` (it would
send Tor Browser to https://<onion>/static/…, where nothing listens), and its cookies lose the ``Secure``
flag. Tor Browser treats .onion pages as secure contexts and keeps Secure cookies there, but other
Tor-capable browsers (and older Tor Browsers) drop them over http; a cookie set for the onion host is only
ever sent to that host, through Tor, so the flag protects nothing there. Clearnet requests keep every
protection, and an HTTPS response names the onion address of the same page (``Onion-Location``), which Tor
Browser offers to switch to.

Links the buyer sees are built from the request (``request.build_absolute_uri``), so they carry the host
the buyer came in on; PUBLIC_BASE_URL stays the clearnet address the upstream calls back.
"""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port
from django.middleware.security import SecurityMiddleware


def is_onion(request):
    """The request came for ONION_ADDRESS (an allowed host: an unknown one is refused later, with 400)."""
    if not settings.ONION_ADDRESS:
        return False
    try:
        host, _port = split_domain_port(request.get_host())
    except DisallowedHost:
        return False
    return host == settings.ONION_ADDRESS


class OnionAwareSecurityMiddleware(SecurityMiddleware):
    """Django's SecurityMiddleware, which exempts requests by path only, deciding per host.

    First in MIDDLEWARE, so its response step runs last and sees every cookie the others set."""

    def process_request(self, request):
        if is_onion(request):
            return None
        return super().process_request(request)

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if is_onion(request):
            # Even when a proxy says the request came over TLS: HSTS would lock the onion out of plain HTTP.
            response.headers.pop("Strict-Transport-Security", None)
            for morsel in response.cookies.values():
                morsel["secure"] = ""
        elif settings.ONION_ADDRESS and request.is_secure():
            response["Onion-Location"] = f"http://{settings.ONION_ADDRESS}{request.get_full_path()}"
        return response


def written_address():
    """The address the tor service wrote (ONION_HOSTNAME_FILE, its hidden service's `hostname`), or None."""
    if not settings.ONION_HOSTNAME_FILE:
        return None
    try:
        return Path(settings.ONION_HOSTNAME_FILE).read_text().strip().lower() or None
    except OSError:
        return None


def address_status():
    """What the operator needs to know: the address served, the one tor wrote, and what to do if they differ.

    The settings never read the file (importing them touches no file): ONION_ADDRESS is what is served."""
    served, written = settings.ONION_ADDRESS or None, written_address()
    if written and written != served:
        advice = f"tor serves {written}: set ONION_ADDRESS={written} (in .env) and restart the shop to answer it"
    elif served:
        advice = None
    else:
        advice = "no onion address: see docs/deploying.md, Tor"
    return {"served": served, "written": written, "advice": advice}
