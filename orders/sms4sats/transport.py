"""Executing sms4sats calls over HTTP: ``Sms4satsClient`` (sync: views, tasks, the admin) and
``AsyncSms4satsClient`` (the poller and the catalog refresh, many calls at once on one pool).

Every executed call ends in ``settle``: it turns the answer (or the lack of one) into the call's result or
the ``Sms4satsError`` raised, and reports that outcome once to ``observe_outcome``, whichever client ran it.
"""

import asyncio
import logging
import os
import threading
from typing import Any

import httpx
from django.conf import settings

from shopsettings import runtime
from sms4sats_site import outbound

from .. import metrics
from . import upstream_health
from .contract import (
    Call,
    Country,
    CreatedOrder,
    History,
    OrderStatus,
    Price,
    RentalCountry,
    Service,
    Sms4satsError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
    availability_call,
    balance_call,
    cancel_order_call,
    countries_call,
    create_order_call,
    create_send_order_call,
    error_reason,
    fund_call,
    history_call,
    order_status_call,
    price_call,
    rental_countries_call,
    services_call,
)

logger = logging.getLogger("orders.sms4sats")

CONNECT_TIMEOUT = 3.0  # seconds; a host that does not accept a connection quickly is down
# The largest answer read (the catalog's biggest is a few hundred kB); a larger one is malformed.
MAX_ANSWER_BYTES = 5_000_000


class AnswerTooLarge(httpx.HTTPError):
    """The answer went past MAX_ANSWER_BYTES (reading stopped there): malformed, see ``request_failed``."""


# The outcome label of the upstream-calls metric.
OUTCOMES = {
    type(None): "ok",
    UpstreamUnavailable: "unavailable",
    UpstreamRejected: "rejected",
    UpstreamMalformed: "malformed",
}


# One outcome per call ---------------------------------------------------------------------------------


def observe_outcome(call: Call, error: Sms4satsError | None) -> None:
    """Every call to sms4sats, sync or async, ends here exactly once: ``error`` is None on success, else the
    error about to be raised (UpstreamUnavailable, UpstreamRejected or UpstreamMalformed)."""
    # A 5xx, a timeout or a refused connection counts as sms4sats not answering; any other answer as answering.
    upstream_health.record(not isinstance(error, UpstreamUnavailable), error.reason if error else "")
    metrics.count("upstream_calls", call.name, OUTCOMES.get(type(error), "error"))
    metrics.flush()  # at most once a second, one pipelined round trip
    if error is not None:
        # Never log headers or the client: the API key must not reach the logs.
        logger.warning("sms4sats %s: %s: %s", call.name, type(error).__name__, error.reason)


def settle(call: Call, response: httpx.Response | None = None, failure: httpx.HTTPError | None = None) -> Any:
    """The outcome of one executed call: its parsed result, or the Sms4satsError raised.

    ``response`` is the HTTP answer; ``failure`` the httpx exception when there was none (or it could not be
    read)."""
    try:
        if failure is not None:
            raise request_failed(call, failure) from failure
        result = finish(call, response)
    except Sms4satsError as error:
        observe_outcome(call, error)
        raise
    observe_outcome(call, None)
    observe_left_out(call, result)
    return result


def observe_left_out(call: Call, result: Any) -> None:
    """What a usable answer had that could not be used (a nameless country, a code field that is no code): each
    part counted and logged; the rest of the answer is applied."""
    if isinstance(result, OrderStatus):
        parts = [f"{name}: {why}" for name, why in result.refused]
    else:
        parts = list(getattr(result, "dropped", ()))
    if not parts:
        return
    for _ in parts:
        metrics.count("upstream_entries_dropped", call.name)
    logger.warning("sms4sats %s: left out %d part(s) of the answer: %s", call.name, len(parts), "; ".join(parts)[:1000])


def surely_not_sent(exc: httpx.HTTPError) -> bool:
    """True only when the request cannot have reached sms4sats: no connection was ever made (refused, DNS
    failure, connect timeout, no free pooled connection)."""
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        # httpx_aiohttp maps every aiohttp connection error, a reset after sending included, to a
        # ConnectTimeout: ask aiohttp's own exception instead.
        import aiohttp

        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def request_failed(call: Call, exc: httpx.HTTPError) -> Sms4satsError:
    """Map an httpx exception (no answer, or an unreadable one) to the taxonomy."""
    sent = not surely_not_sent(exc)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamUnavailable(f"{call.name}: timed out ({type(exc).__name__})", request_sent=sent)
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnavailable(f"{call.name}: unreachable ({type(exc).__name__}: {exc})", request_sent=sent)
    # e.g. a body that cannot be decoded, too many redirects
    return UpstreamMalformed(f"{call.name}: {type(exc).__name__}: {exc}")


def finish(call: Call, response: httpx.Response) -> Any:
    """Turn an HTTP answer into the call's result, or raise the matching Sms4satsError."""
    status = response.status_code
    try:
        body, is_json = response.json(), True
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors; also an empty body
        body, is_json = None, False
    reason = error_reason(body) or f"HTTP {status}"
    if status >= 500:
        # It reached a server. With sms4sats' own error envelope, sms4sats answered that it failed; any other
        # 5xx (a proxy's 502 page) says nothing of what sms4sats did with it.
        answered = isinstance(body, dict) and str(body.get("status", "")).lower() == "error"
        raise UpstreamUnavailable(reason, status_code=status, request_sent=True, answered=answered)
    if status >= 400:
        raise UpstreamRejected(reason, status_code=status)
    if not 200 <= status < 300:
        raise UpstreamMalformed(f"{call.name}: unexpected HTTP {status}", status_code=status)
    if not call.expects_json:
        return call.parse(None)
    if not is_json:
        raise UpstreamMalformed(f"{call.name}: the answer is not JSON", status_code=status)
    if isinstance(body, dict) and str(body.get("status", "")).lower() == "error":
        raise UpstreamRejected(reason, status_code=status)
    try:
        return call.parse(body)
    except UpstreamMalformed as exc:
        raise UpstreamMalformed(f"{call.name}: {exc.reason}", status_code=status) from exc
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # A parser bug or a shape nobody anticipated: still the caller's "malformed", never a traceback.
        raise UpstreamMalformed(f"{call.name}: {type(exc).__name__}: {exc}", status_code=status) from exc


def add_capped(body: bytearray, chunk: bytes) -> None:
    body += chunk
    if len(body) > MAX_ANSWER_BYTES:
        raise AnswerTooLarge(f"answer larger than {MAX_ANSWER_BYTES} bytes")


def whole(streamed: httpx.Response, body: bytearray) -> httpx.Response:
    """The streamed answer as a read one, its (already decoded) body in full."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(streamed.status_code, headers=headers, content=bytes(body), request=streamed.request)


# The clients ------------------------------------------------------------------------------------------


class _ClientBase:
    """Configuration and request building shared by the sync and async clients."""

    def __init__(self, base_url=None, api_key=None, ref=None, timeout=None):
        # None means "from settings"; an empty string means "none", e.g. to go without a configured key.
        self.base_url = (base_url if base_url is not None else settings.SMS4SATS_API_URL).rstrip("/")
        self.api_key = (api_key if api_key is not None else runtime.get("SMS4SATS_API_KEY")) or None
        self.ref = (ref if ref is not None else runtime.get("SMS4SATS_REF")) or None
        self.timeout = float(timeout if timeout is not None else settings.SMS4SATS_TIMEOUT)

    def _http_options(self) -> dict:
        return {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)),
            "headers": {"Accept": "application/json"},
        }

    def _headers(self, call: Call) -> dict:
        if not call.needs_key:
            return {}
        if not self.api_key:
            # Refused here, before any request: not an outcome of sms4sats.
            logger.warning("sms4sats %s: SMS4SATS_API_KEY is not set", call.name)
            raise UpstreamRejected("SMS4SATS_API_KEY is not set")
        return {"X-API-Key": self.api_key}

    def __repr__(self):  # no key in reprs (they end up in logs and tracebacks)
        return f"<{type(self).__name__} {self.base_url}>"


class Sms4satsClient(_ClientBase):
    """Sync client; one pooled connection per instance (see ``get_client`` for the shared one)."""

    def __init__(self, base_url=None, api_key=None, ref=None, timeout=None, transport=None):
        super().__init__(base_url, api_key, ref, timeout)
        # outbound's transport: every socket operation ends by the call's deadline (httpx's timeouts are per
        # read: a trickling sms4sats would hold a page's thread for ever). No address guard: the operator's
        # SMS4SATS_API_URL may well be local (the sandbox).
        self._http = httpx.Client(transport=transport or outbound.transport(), **self._http_options())

    def _run(self, call: Call) -> Any:
        headers = self._headers(call)
        try:
            with outbound.deadline(self.timeout):  # the whole call: connect, headers and body
                request = self._http.build_request(
                    call.method, call.path, params=call.params, json=call.body, headers=headers
                )
                response = self._http.send(request, stream=True)
                try:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        add_capped(body, chunk)
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            return settle(call, failure=exc)
        return settle(call, whole(response, body))

    def ping(self) -> None:
        """Raise a Sms4satsError if the upstream does not answer its base URL with a 2xx."""
        self._run(availability_call())

    def countries(self) -> list[Country]:
        return self._run(countries_call())

    def services(self, country: int) -> list[Service]:
        return self._run(services_call(country))

    def rental_countries(self, service: str = "full") -> list[RentalCountry]:
        return self._run(rental_countries_call(service))

    def price(self, country=None, service=None) -> Price:
        return self._run(price_call(country, service))

    def create_order(
        self, country: int, service: str, *, is_rental=False, realphone=False, immediate=False
    ) -> CreatedOrder:
        return self._run(
            create_order_call(
                country, service, is_rental=is_rental, realphone=realphone, immediate=immediate, ref=self.ref
            )
        )

    def order_status(self, order_id: str) -> OrderStatus:
        return self._run(order_status_call(order_id))

    def cancel_order(self, order_id: str) -> None:
        return self._run(cancel_order_call(order_id))

    def create_send_order(self, phone: str, message: str, *, webhook_url=None, immediate=False) -> CreatedOrder:
        return self._run(
            create_send_order_call(phone, message, webhook_url=webhook_url, immediate=immediate, ref=self.ref)
        )

    def fund(self, amount: int) -> CreatedOrder:
        return self._run(fund_call(amount))

    def balance(self) -> int:
        return self._run(balance_call())

    def history(self) -> History:
        return self._run(history_call())

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class AsyncSms4satsClient(_ClientBase):
    """Async client, with only the reads made many at a time: the poller's ``order_status``, and the catalog
    refresh's ``services`` and ``price``. Everything else goes through the sync client."""

    def __init__(self, base_url=None, api_key=None, ref=None, timeout=None, transport=None):
        super().__init__(base_url, api_key, ref, timeout)
        # aiohttp underneath: a third of httpx's own CPU per call, and the poller makes hundreds a second
        # (BENCHMARKS.md). Same httpx requests, responses and exceptions above it. Imported here: only the workers
        # make async calls, and aiohttp is about 8 MB the web's processes would carry for nothing.
        from httpx_aiohttp import AiohttpTransport

        self._http = httpx.AsyncClient(transport=transport or AiohttpTransport(), **self._http_options())

    async def _run(self, call: Call) -> Any:
        headers = self._headers(call)
        try:
            async with asyncio.timeout(self.timeout):  # the whole call (httpx's timeouts are per read)
                request = self._http.build_request(
                    call.method, call.path, params=call.params, json=call.body, headers=headers
                )
                response = await self._http.send(request, stream=True)
                try:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        add_capped(body, chunk)
                finally:
                    await response.aclose()
        except TimeoutError:
            return settle(call, failure=httpx.ReadTimeout(f"no complete answer within {self.timeout:g} s"))
        except httpx.HTTPError as exc:
            return settle(call, failure=exc)
        return settle(call, whole(response, body))

    async def order_status(self, order_id: str) -> OrderStatus:
        return await self._run(order_status_call(order_id))

    async def services(self, country: int) -> list[Service]:
        return await self._run(services_call(country))

    async def price(self, country=None, service=None) -> Price:
        return await self._run(price_call(country, service))

    async def aclose(self):
        await self._http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()


# The per-process shared client ------------------------------------------------------------------------

_shared_lock = threading.Lock()
_shared: tuple[tuple, Sms4satsClient] | None = None


def get_client() -> Sms4satsClient:
    """The process's shared sync client (one connection pool), rebuilt when the settings change.

    The pid is part of the key so that a forked worker never reuses its parent's sockets.
    """
    global _shared
    key = (
        os.getpid(),
        settings.SMS4SATS_API_URL,
        runtime.get("SMS4SATS_API_KEY"),
        runtime.get("SMS4SATS_REF"),
        settings.SMS4SATS_TIMEOUT,
    )
    with _shared_lock:
        if _shared is None or _shared[0] != key:
            # The old client is not closed: another thread may still be using it; it is garbage
            # collected with its sockets once unused.
            _shared = (key, Sms4satsClient())
        return _shared[1]
