"""Who is asking: the client's address, and the keyed hash that keeps addresses unreadable in Redis.

Site-wide: the order limits (shop/ratelimits.py), the admin login throttle (backoffice/login_throttle.py) and
the /metrics allow-list (backoffice/metrics.py) count or check the same address.

- ``client_ip``: the address a rate limit counts (django-ratelimit's ``RATELIMIT_IP_META_KEY``): the
  connection's address, unless that is one of the operator's ``TRUSTED_PROXIES``; then the client is the
  last ``X-Forwarded-For`` entry that is not itself a trusted proxy (the one the proxy appended). Nobody
  else can choose a bucket with the header, and by default nobody is trusted.
- ``KeyedSha256``: the hash of the rate-limit cache keys (``RATELIMIT_HASH_ALGORITHM``). An HMAC with the
  secret key, so that the keys in Redis cannot be turned back into IP addresses by trying all 2^32 of them.
"""

import functools
import hashlib
import hmac
import ipaddress

from django.conf import settings
from python_ipware.modern.parsers import parse_ip, split_proxy_chain


@functools.lru_cache(maxsize=8)
def _networks(trusted):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def in_networks(address, entries):
    """Whether ``address`` (an ip_address or its text) is in one of ``entries`` (addresses or networks)."""
    address = ipaddress.ip_address(address)
    return any(address in net for net in _networks(tuple(entries)) if net.version == address.version)


def _is_trusted_proxy(address):
    return in_networks(address, settings.TRUSTED_PROXIES)


def client_ip(request):
    """The client's address. Parsing (ports, brackets, IPv4-mapped IPv6, junk entries) is python-ipware's,
    the parser django-ipware is built on; its own choice of the client is not used, because it never looks
    at who connected, so a client reaching the shop directly could name any address in the header."""
    remote = parse_ip(request.META.get("REMOTE_ADDR"))
    if remote is None:
        return "0.0.0.0"
    if not _is_trusted_proxy(remote):
        return str(remote)
    # Walk back from the proxy: each trusted proxy appended the address it saw; the first hop that is not a
    # trusted proxy is the client. A proxy that sent no header leaves its own address (one shared bucket).
    chain = split_proxy_chain(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    client = remote
    for hop in reversed(chain):
        client = hop
        if not _is_trusted_proxy(hop):
            break
    return str(client)


class KeyedSha256:
    """hashlib-like: ``KeyedSha256(data).hexdigest()`` is HMAC-SHA256(SECRET_KEY, data)."""

    def __init__(self, data=b""):
        self._mac = hmac.new(settings.SECRET_KEY.encode(), data, hashlib.sha256)

    def hexdigest(self):
        return self._mac.hexdigest()
