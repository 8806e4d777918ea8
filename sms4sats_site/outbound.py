"""The one door out: every outbound HTTP request of the shop goes through here (like healthchecks' hc/lib/curl.py).

What it guarantees, whoever is at the other end:
- a wall-clock deadline per call, covering DNS-to-body: httpx's timeouts are per read, so a peer trickling a
  byte every second (in its headers or its body) would never time out. Here every socket read, write and
  connect gets the time *left* as its timeout (``DeadlineBackend``), so the call ends by its deadline;
- a body size cap: the answer is streamed and reading stops past ``max_bytes``;
- no redirect followed unless asked (``redirects=N``), and each hop is checked like the first;
- for targets an admin types in (``user_target=True``: webhook endpoints, the referral domain, the rates
  source, Apprise's json/webhook targets) a guard at connect time: the host name is resolved once, every
  address it resolves to must be public (not loopback, private, link-local, multicast, reserved: the cloud
  metadata address 169.254.169.254 is link-local) unless inside ``OUTBOUND_ALLOWED_NETWORKS``, and the
  connection goes to that checked address (a DNS answer that changes in between cannot swap it). TLS still
  verifies the certificate for the URL's host name.

Every failure is one exception, ``OutboundError``, with a short reason; callers map it to their outcomes.
"""

import concurrent.futures
import contextvars
import ipaddress
import json as jsonlib
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings

# The current call's deadline (time.monotonic()), read by every socket operation of DeadlineBackend. A context
# variable, so the sms4sats client's shared pool serves each thread's call with its own deadline.
_deadline = contextvars.ContextVar("outbound_deadline", default=None)

_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="outbound-dns")
REDIRECT_CODES = {301, 302, 303, 307, 308}


class OutboundError(Exception):
    """No usable answer: ``reason`` says why in a few words (never the request's headers)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class AddressRefused(OutboundError):
    """The target resolves to an address the guard refuses (internal, or not resolvable)."""


class Unresolvable(AddressRefused):
    """The target's host name does not resolve."""


class DeadlineExceeded(httpcore.TimeoutException):
    """The call's wall-clock deadline passed (an httpcore timeout, so httpx maps it to a timeout)."""


# The deadline ------------------------------------------------------------------------------------------------


class deadline:  # noqa: N801 - used as a context manager, like a function
    """``with deadline(seconds):`` every socket operation inside ends by then (nested: the earlier one wins)."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

    def __enter__(self):
        outer = _deadline.get()
        self._token = _deadline.set(self.at if outer is None else min(outer, self.at))
        return self

    def __exit__(self, *exc):
        _deadline.reset(self._token)

    def left(self):
        return self.at - time.monotonic()


def _bounded(timeout):
    """The timeout of one socket operation: the caller's, cut to the time left before the deadline."""
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner):
        self._inner = inner

    def read(self, max_bytes, timeout=None):
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer, timeout=None):
        return self._inner.write(buffer, _bounded(timeout))

    def close(self):
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info):
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend with the deadline on every operation, and the address guard on connect when
    ``guarded``."""

    def __init__(self, guarded=False):
        self._inner = httpcore.SyncBackend()
        self.guarded = guarded

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if self.guarded:
            host = checked_address(host, port)
        stream = self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - not used
        raise httpcore.ConnectError("unix sockets are not used for outbound requests")

    def sleep(self, seconds):
        self._inner.sleep(seconds)


def transport(guarded=False, **options):
    """An httpx transport whose sockets obey the current ``deadline`` (and the guard when ``guarded``)."""
    result = httpx.HTTPTransport(**options)
    # httpx has no public way to hand its pool a network backend; httpcore's pool takes one (tested).
    result._pool._network_backend = DeadlineBackend(guarded)
    return result


# The guard -----------------------------------------------------------------------------------------------


def allowed_networks():
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.OUTBOUND_ALLOWED_NETWORKS]


def address_allowed(address):
    """True for a public unicast address, or one inside OUTBOUND_ALLOWED_NETWORKS."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in allowed_networks()):
        return True
    return ip.is_global and not ip.is_multicast


def checked_address(host, port):
    """The address to connect to for ``host``: resolved once, every answer checked; AddressRefused else."""
    # The resolver runs in a thread so that a slow DNS server counts against the deadline too.
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=_bounded(None))
    except concurrent.futures.TimeoutError as exc:
        raise DeadlineExceeded(f"{host}: no DNS answer in time") from exc
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve ({exc})") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Unresolvable(f"{host} does not resolve")
    # Every answer must pass: a name that also resolves internally is refused, whichever one we would use.
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        raise AddressRefused(
            f"{host} resolves to an internal address ({refused[0]}); "
            "set OUTBOUND_ALLOWED_NETWORKS to allow a local network"
        )
    return addresses[0]


def url_problem(url, seconds=3.0):
    """Why an admin-typed URL may not be an outbound target, or None: not http(s), a literal internal address,
    or a name resolving to one. For a form's save; the request checks again after DNS, at connect. A name that
    does not resolve (yet) passes: the receiver may not exist yet, and its delivery will say so."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected an http or https URL"
    try:
        with deadline(seconds):
            checked_address(parts.hostname, port)
    except (Unresolvable, DeadlineExceeded):
        return None
    except AddressRefused as exc:
        return exc.reason
    return None


# The call --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    body: bytes
    url: str
    truncated: bool = False  # more was sent than ``max_bytes`` (only with ``truncate=True``)

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body as JSON; ValueError when it is not (UnicodeDecodeError is one)."""
        return jsonlib.loads(self.body)


def request(
    method,
    url,
    *,
    timeout,
    max_bytes,
    user_target=False,
    redirects=0,
    truncate=False,
    headers=None,
    content=None,
    json=None,
):
    """One HTTP request, over by ``timeout`` seconds (wall clock, everything included), its answer's body at
    most ``max_bytes`` (OutboundError past it, or cut there with ``truncate=True``). ``redirects``: how many
    to follow (each hop guarded like the first); a further 3xx is returned as the answer.
    ``user_target``: the URL came from an admin: internal addresses are refused (see the module's doc)."""
    headers = {"Accept-Encoding": "identity", **(headers or {})}  # the cap counts what we read, not a gzip bomb
    with (
        deadline(timeout),
        httpx.Client(
            transport=transport(guarded=user_target),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the guard checks the address we connect to
        ) as client,
    ):
        try:
            for hop in range(redirects + 1):
                req = client.build_request(method, url, headers=headers, content=content, json=json)
                response = client.send(req, stream=True)
                try:
                    location = response.headers.get("Location")
                    if response.status_code in REDIRECT_CODES and location and hop < redirects:
                        url = urljoin(str(response.url), location)
                        if urlsplit(url).scheme not in ("http", "https"):
                            raise OutboundError(f"redirected to a non-HTTP URL ({url[:100]})")
                        if response.status_code == 303:
                            method, content, json = "GET", None, None
                        continue
                    body, truncated = read_body(response, max_bytes, truncate)
                    return Answer(response.status_code, response.headers, body, str(response.url), truncated)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            raise OutboundError(f"timed out: no complete answer within {timeout:g} s") from exc
        except httpx.InvalidURL as exc:
            raise OutboundError(f"not a usable URL ({exc})") from exc
        except httpx.HTTPError as exc:
            raise OutboundError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def read_body(response, max_bytes, truncate):
    """(body, truncated): at most ``max_bytes``; past them OutboundError, or the first ``max_bytes`` with
    ``truncate``."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if truncate:
                return bytes(body[:max_bytes]), True
            raise OutboundError(f"answer larger than {max_bytes} bytes")
    return bytes(body), False


def snippet(body, limit):
    """A peer's bytes as a short text safe to show staff: decoded leniently, control and bidi characters
    (not printable) made spaces, runs of spaces collapsed, at most ``limit`` characters."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def get(url, **options):
    return request("GET", url, **options)


def post(url, **options):
    return request("POST", url, **options)
