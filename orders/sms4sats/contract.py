"""The sms4sats API as this shop relies on it (docs/sms4sats-api.md): the errors, the typed results, the tolerant
parsers, and one ``Call`` per endpoint (the request and the parser of its answer). No I/O here:
``transport`` executes the calls.

Only ``Sms4satsError`` subclasses leave the client:
- ``UpstreamUnavailable``: unreachable, timed out or 5xx, so the request may work later; ``answer_lost``
  when it may have reached sms4sats and been acted on unseen (``request_sent`` and not ``answered``);
- ``UpstreamRejected``: 4xx or ``{"status": "error"}``, ``.reason`` from the body;
- ``UpstreamMalformed``: not JSON, or an answer of which nothing can be used (not an object or a list at all).

Answers are read field by field and entry by entry: a field that cannot be used is left out and named in
``OrderStatus.refused`` (the rest is applied); a list entry that cannot be used is left out and named in the
list's ``dropped`` (``Entries``). One bad field never hides a payment, one bad entry never hides the catalog.
"""

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

AUTO_SELECT = 999  # the provider's "any country" id (0 is Russia)

# Errors ---------------------------------------------------------------------------------------


class Sms4satsError(Exception):
    def __init__(self, reason: str, *, status_code: int | None = None):
        # Every reason may come from sms4sats' body: stored and shown only as clean text.
        reason = clean_reason(reason)
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


class UpstreamUnavailable(Sms4satsError):
    """Unreachable, timed out or 5xx: the same request may work later.

    ``request_sent`` is False only when the request surely never reached sms4sats (connection refused,
    DNS failure, connect timeout). ``answered`` is True when sms4sats itself answered the 5xx with its
    error envelope (``{"status": "error", ...}``): it says it failed. Sent but not answered (a read timeout,
    a connection reset after sending, a proxy's 502 page) means sms4sats may have acted on the request
    without the shop learning of it: ``answer_lost``.
    """

    def __init__(
        self, reason: str, *, status_code: int | None = None, request_sent: bool = True, answered: bool = False
    ):
        super().__init__(reason, status_code=status_code)
        self.request_sent = request_sent
        self.answered = answered

    @property
    def answer_lost(self) -> bool:
        """sms4sats may have done what was asked (created an order) and the shop cannot know."""
        return self.request_sent and not self.answered


class UpstreamRejected(Sms4satsError):
    """The upstream refused the request (4xx or status "error"); repeating it will not help."""


class UpstreamMalformed(Sms4satsError):
    """The answer is not what the contract describes."""


# Results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    cc: int
    name: str
    rent: bool


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    count: int | None
    image: str  # as given by the upstream (a path relative to https://sms4sats.com/), or ""


@dataclass(frozen=True)
class RentalCountry:
    cc: int
    name: str
    weeks: int
    price: int


@dataclass(frozen=True)
class Price:
    receive: int | None
    send: int | None
    rent: int | None
    fee: int | None  # "s4s", the platform fee
    price: int | None  # the exact price for the asked country and service ("computed.price")
    country: int | None  # the resolved country code ("computed.country")
    description: str
    dropped: tuple[str, ...] = ()  # the fields left out (None above), each with why


class Entries(list):
    """The usable entries of a list answer; ``dropped`` says which were left out and why."""

    def __init__(self, items=(), dropped=()):
        super().__init__(items)
        self.dropped = list(dropped)


@dataclass(frozen=True)
class CreatedOrder:
    order_id: str
    payreq: str

    @property
    def paid_from_balance(self) -> bool:
        # immediate orders are debited from the API-key balance; the upstream says so with payreq "paid".
        return self.payreq == "paid"


@dataclass(frozen=True)
class OrderStatus:
    paid: bool | None  # None: sms4sats said something that is neither yes nor no (see ``refused``)
    code: str | None
    number: str | None
    activation_id: str | None
    sms_status: str | None
    country: str
    service: str
    timestamp: datetime | None
    error: str | None
    raw: dict = field(repr=False)
    # The fields that could not be used, (name, why): they are None (or "") above, the rest is sound.
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HistoryEntry:
    amount: int
    created_at: datetime | None
    description: str
    price: int | None
    preimage_hash: str


@dataclass(frozen=True)
class History:
    total_amount: int
    entries: list[HistoryEntry]


# Tolerant field readers -----------------------------------------------------------------------
# The API is loose about types (prices as strings or numbers, ids as numbers or strings, codes as
# numbers that may have lost leading zeros). These accept the variants seen in the docs and in
# public clients and raise UpstreamMalformed for anything else.

_INTEGER = re.compile(r"-?\d+")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):  # bool is an int subclass: never a count of sats
        raise UpstreamMalformed(f"{name}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise UpstreamMalformed(f"{name}: expected a number, got {str(value)[:40]!r}")


def _opt_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    return _int(value, name)


def _lenient_int(value: Any) -> int | None:
    """For informational fields only: junk becomes None instead of failing the whole answer."""
    try:
        return _opt_int(value, "")
    except UpstreamMalformed:
        return None


def _text(value: Any, name: str) -> str | None:
    """An identifier, code or phone number as a string; a number becomes its decimal digits."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip() or None
    return str(_int(value, name))


def _str(value: Any, name: str, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise UpstreamMalformed(f"{name}: expected a string, got {type(value).__name__}")


def _bool(value: Any, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise UpstreamMalformed(f"{name}: expected a boolean, got {str(value)[:40]!r}")


def _timestamp(value: Any, name: str) -> datetime | None:
    epoch = _opt_int(value, name)
    if epoch is None:
        return None
    # The API gives milliseconds; a value this small can only be seconds (it would be 1973 in ms).
    seconds = epoch / 1000 if abs(epoch) >= 100_000_000_000 else epoch
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise UpstreamMalformed(f"{name}: not a timestamp: {epoch}") from exc


def _first(obj: dict, *keys: str) -> Any:
    """The first of several alternative field names that is present (0 counts as present)."""
    for key in keys:
        if obj.get(key) is not None:
            return obj[key]
    return None


def _object(body: Any, name: str = "body") -> dict:
    if not isinstance(body, dict):
        raise UpstreamMalformed(f"{name}: expected an object, got {type(body).__name__}")
    return body


def _array(body: Any, name: str = "body") -> list:
    if not isinstance(body, list):
        raise UpstreamMalformed(f"{name}: expected an array, got {type(body).__name__}")
    return body


def _required(obj: dict, *keys: str) -> Any:
    value = _first(obj, *keys)
    if value is None:
        raise UpstreamMalformed(f"missing field {'/'.join(keys)}")
    return value


# What the shop keeps ------------------------------------------------------------------------------
# Every value the shop stores must fit its column (orders.models.Order; tests/test_fuzz_client.py checks
# these against the model) and be storable text on PostgreSQL (no NUL, no lone surrogate).

NAME_MAX = 100  # country_name, service_name: display names, shortened to fit
SERVICE_CODE_MAX = 40  # service_code
NUMBER_MAX = 32  # number
# code, RentalMessage.code: four SMS parts. Kept in full up to this; a longer one is cut (and said so). Bounded
# because a rental's codes are unique per order, and PostgreSQL indexes at most about 2,700 bytes per entry.
CODE_MAX = 640
ORDER_ID_MAX = 64  # upstream_id
SMS_STATUS_MAX = 10  # sms_status
ERROR_MAX = 1000  # upstream_error (text): enough for any real reason
CC_MAX = 2**31 - 1  # country_code, an integer column
WEEKS_MAX = 2**15 - 1  # rental_weeks, a smallint column
SATS_MAX = 2**63 - 1  # quoted_sats, a bigint column
PHONE_NUMBER = re.compile(rf"\+?[0-9]{{1,{NUMBER_MAX - 1}}}")


def _plain(text: str) -> str:
    """Text PostgreSQL can store: no NUL character, no lone surrogate (JSON can encode both)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _fits(text: str, limit: int) -> bool:
    """An identifier kept as is: printable and short enough (never cut: a cut id names something else)."""
    return len(text) <= limit and text.isprintable()


def visible(text: str) -> str:
    """``text`` without what a reader cannot see or that reorders what they see: control characters (NUL, escape),
    format characters (bidi overrides such as U+202E, zero-width ones), surrogates, private and unassigned code
    points (Unicode categories C*). Any kind of space or line break becomes a plain space."""
    return "".join(" " if c.isspace() else c for c in text if c.isspace() or unicodedata.category(c)[0] != "C")


def written_out(text: str, keep: str = " ") -> str:
    """``text`` for the operator: every invisible character written out as an escape (U+202E as ``\\u202e``), so
    that what sms4sats sent can be read as sent. Characters in ``keep`` stay as they are."""
    return "".join(c if c in keep or c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def one_line(text: str) -> str:
    """Text from sms4sats as shown on one line: only visible characters, spaces collapsed, storable."""
    return " ".join(visible(_plain(text)).split())


def clean_reason(text: Any) -> str:
    """An error text from sms4sats as stored and shown (the order's timeline, the admin): one clean line."""
    return one_line(str(text))[:ERROR_MAX]


def _display_name(value: Any, name: str, default: str = "") -> str:
    """A name shown to people: invisible characters removed, spaces collapsed, shortened to NAME_MAX."""
    text = one_line(_str(value, name, default))
    return text if len(text) <= NAME_MAX else text[: NAME_MAX - 1] + "…"


def _storable(value: Any) -> Any:
    """A decoded JSON answer as the order's timeline keeps it (a JSON column): every string plain."""
    if isinstance(value, str):
        return _plain(value)
    if isinstance(value, dict):
        return {_plain(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # the decoder reads 1e999 as inf, which no JSON column accepts back
    return value


def _storable_country(cc: int) -> bool:
    return 0 <= cc <= CC_MAX


def _sats(value: Any, name: str) -> int:
    sats = _int(value, name)
    if not 0 <= sats <= SATS_MAX:  # a negative amount is no price either
        raise UpstreamMalformed(f"{name}: {sats} sats is not a price")
    return sats


def _opt_sats(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    return _sats(value, name)


# Parsers: decoded JSON -> results ---------------------------------------------------------------


def _entries(body: Any, what: str, read: Callable[[dict], Any]) -> Entries:
    """Each entry of a list answer read by ``read``; one that cannot be used is left out (in ``dropped``), never
    the whole list. Only an answer that is no list at all is malformed."""
    entries = Entries()
    for index, item in enumerate(_array(body)):
        try:
            entries.append(read(_object(item, what)))
        except UpstreamMalformed as exc:
            entries.dropped.append(f"{what} #{index + 1}: {exc.reason}")
    return entries


def _country(item: dict) -> Country:
    cc = _int(_required(item, "id", "cc"), "country id")
    if not _storable_country(cc):
        raise UpstreamMalformed(f"country id: {cc} is not a country code")
    name = _display_name(_required(item, "eng", "country", "name"), "country name")
    if not name:
        raise UpstreamMalformed(f"country {cc}: no name")
    return Country(cc=cc, name=name, rent=_bool(item.get("rent"), "country rent"))


def parse_countries(body: Any) -> Entries:
    # The live endpoint most likely answers sms-activate style {id, eng, rent}; the docs list uses
    # {cc, country}. Several names share a code (0 Russia/Russian, 187 USA/United States): keep the first.
    entries = _entries(body, "country", _country)
    by_cc: dict[int, Country] = {}
    for country in entries:
        by_cc.setdefault(country.cc, country)
    # Auto-Select first (the natural default), otherwise the upstream's order (sort is stable).
    countries = sorted(by_cc.values(), key=lambda country: country.cc != AUTO_SELECT)
    return Entries(countries, entries.dropped)


def _service(item: dict) -> Service:
    code = _str(_required(item, "value", "key"), "service value")
    if not _fits(code, SERVICE_CODE_MAX):  # a code the shop cannot store is a service it cannot sell
        raise UpstreamMalformed(f"service value: not a service code: {code[:40]!r}")
    image = item.get("image")
    src = _first(image, "src") if isinstance(image, dict) else image
    return Service(
        code=code,
        name=_display_name(item.get("text"), "service text", default=code) or code,
        # "count" is a string in the known typings and never read by clients: tolerate junk.
        count=_lenient_int(item.get("count")),
        image=src if isinstance(src, str) else "",  # decoration only: junk is no image
    )


def parse_services(body: Any) -> Entries:
    return _entries(body, "service", _service)


def _rental_country(item: dict) -> RentalCountry:
    rental = RentalCountry(
        cc=_int(_required(item, "cc", "id"), "cc"),
        name=_display_name(_required(item, "country", "eng", "name"), "country"),
        weeks=_int(_required(item, "duration"), "duration"),  # a string of weeks in the docs
        price=_sats(_required(item, "price"), "price"),
    )
    if not _storable_country(rental.cc) or not 1 <= rental.weeks <= WEEKS_MAX or not rental.name:
        raise UpstreamMalformed(f"rental {rental.cc}: not a rental country ({rental.weeks} weeks, {rental.name!r})")
    return rental


def parse_rental_countries(body: Any) -> Entries:
    return _entries(body, "rental country", _rental_country)


def _read_fields(body: dict, readers: dict[str, tuple[Callable[[Any], Any], Any]]) -> tuple[dict, list]:
    """Each field of ``body`` by its reader; a field that cannot be read gets its default and is listed, with
    why, in the second result. The rest of the answer stays usable."""
    values, refused = {}, []
    for name, (read, default) in readers.items():
        try:
            values[name] = read(body.get(name))
        except UpstreamMalformed as exc:
            values[name] = default
            refused.append((name, exc.reason.removeprefix(f"{name}: ")))
    return values, refused


def _sats_reader(name: str) -> tuple[Callable[[Any], Any], None]:
    return (lambda value: _opt_sats(value, name), None)


def parse_price(body: Any) -> Price:
    body = _object(body)
    computed = body.get("computed") or {}
    if not isinstance(computed, dict):
        computed = {"price": computed}  # counted as a bad "computed.price" below
    flat = {
        "receive": body.get("receive"),  # a string in the docs
        "send": body.get("send"),  # a number in the docs
        "rent": body.get("rent"),
        "s4s": body.get("s4s"),
        "computed.price": _first(computed, "price") if computed else body.get("price"),
        "computed.country": computed.get("country"),
        "computed.description": computed.get("description"),
    }
    values, refused = _read_fields(
        flat,
        {
            "receive": _sats_reader("receive"),
            "send": _sats_reader("send"),
            "rent": _sats_reader("rent"),
            "s4s": (lambda value: _opt_int(value, "s4s"), None),
            "computed.price": _sats_reader("computed.price"),
            "computed.country": (lambda value: _opt_int(value, "computed.country"), None),
            "computed.description": (lambda value: _plain(_str(value, "computed.description")), ""),
        },
    )
    return Price(
        receive=values["receive"],
        send=values["send"],
        rent=values["rent"],
        fee=values["s4s"],
        price=values["computed.price"],
        country=values["computed.country"],
        description=values["computed.description"],
        dropped=tuple(f"{name}: {why}" for name, why in refused),
    )


def parse_created_order(body: Any) -> CreatedOrder:
    body = _object(body)
    order_id = _text(_required(body, "orderId"), "orderId")
    payreq = _str(_required(body, "payreq"), "payreq").strip()
    if not order_id or not payreq:
        raise UpstreamMalformed("empty orderId or payreq")
    if not _fits(order_id, ORDER_ID_MAX) or " " in order_id:
        raise UpstreamMalformed(f"orderId: not an order id: {order_id[:40]!r}")
    if not payreq.isprintable():
        raise UpstreamMalformed("payreq: not an invoice")
    return CreatedOrder(order_id=order_id, payreq=payreq)


def parse_paid_order(body: Any) -> CreatedOrder:
    """The answer to an ``immediate`` order (paid from the API-key balance): ``payreq`` is the word "paid".
    Anything else (an invoice, say) is not an order paid from the balance: the shop must not treat it as one."""
    created = parse_created_order(body)
    if not created.paid_from_balance:
        raise UpstreamMalformed(f'payreq: expected "paid" for an immediate order, got {created.payreq[:40]!r}')
    return created


def _status_number(value: Any) -> str | None:
    number = _text(value, "number")
    # A zero is what a typed (Go-style) upstream sends for "none yet": never a real number.
    if number is None or number.lstrip("+") == "0":
        return None
    if not PHONE_NUMBER.fullmatch(number):
        raise UpstreamMalformed(f"not a phone number: {number[:40]!r}")
    return number


def _status_code(value: Any) -> str | None:
    """The code as sms4sats sent it (invisible characters included: ``visible`` shows it safely), storable."""
    code = _text(value, "code")
    if code == "0" and not isinstance(value, str):  # a typed upstream's "none yet", as for the number
        return None
    return (_plain(code)[:CODE_MAX] or None) if code is not None else None


def _status_sms_status(value: Any) -> str | None:
    sms_status = _text(value, "smsStatus")
    if sms_status is not None and not _fits(sms_status, SMS_STATUS_MAX):
        raise UpstreamMalformed(f"not an SMS status: {sms_status[:40]!r}")
    return sms_status


_ORDER_STATUS_FIELDS = {
    # Not documented before payment; clients treat a missing "paid" as not paid. Junk is neither yes nor no.
    "paid": (lambda value: _bool(value, "paid"), None),
    "number": (_status_number, None),
    "code": (_status_code, None),
    "id": (lambda value: _text(value, "id"), None),
    "smsStatus": (_status_sms_status, None),
    "country": (lambda value: _display_name(value, "country"), ""),
    "service": (lambda value: _display_name(value, "service"), ""),
    "timestamp": (lambda value: _timestamp(value, "timestamp"), None),
    # The no-number failure comes as a 200 with status "OK" and this text.
    "error": (lambda value: clean_reason(_str(value, "error")) or None, None),
}


def parse_order_status(body: Any) -> OrderStatus:
    """Field by field: a field that cannot be used is None and named in ``refused``, the others stand."""
    body = _object(body)
    values, refused = _read_fields(body, _ORDER_STATUS_FIELDS)
    sent = body.get("code").strip() if isinstance(body.get("code"), str) else ""
    if values["code"] is not None and len(sent) > CODE_MAX:
        refused.append(("code", f"{len(sent)} characters: only the first {CODE_MAX} are kept"))
    elif values["code"] is not None and _plain(sent) != sent:
        refused.append(("code", "characters that cannot be stored (NUL) were removed"))
    return OrderStatus(
        paid=values["paid"],
        code=values["code"],
        number=values["number"],
        activation_id=values["id"],
        sms_status=values["smsStatus"],
        country=values["country"],
        service=values["service"],
        timestamp=values["timestamp"],
        error=values["error"],
        raw=_storable(body),
        refused=tuple(refused),
    )


def parse_cancel(body: Any) -> None:
    _object(body)  # {"status": "OK"}; errors were already turned into exceptions


def parse_balance(body: Any) -> int:
    return _int(_required(_object(body), "balance"), "balance")


def parse_history(body: Any) -> History:
    body = _object(body)
    entries = [
        HistoryEntry(
            amount=_int(_required(item, "amount"), "amount"),
            created_at=_timestamp(item.get("createdAt"), "createdAt"),
            description=_str(_first(item, "description", "desc"), "description"),
            price=_opt_int(item.get("price"), "price"),
            preimage_hash=_str(item.get("preimageHash"), "preimageHash"),
        )
        for item in (_object(entry, "history entry") for entry in _array(body.get("orders") or [], "orders"))
    ]
    total = _opt_int(body.get("totalAmount"), "totalAmount")
    return History(total_amount=sum(e.amount for e in entries) if total is None else total, entries=entries)


# Requests: one Call per endpoint ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    name: str  # for logs and error messages
    method: str
    path: str
    parse: Callable[[Any], Any]
    params: dict | None = None
    body: dict | None = None
    needs_key: bool = False
    expects_json: bool = True


def availability_call() -> Call:
    # Any 2xx from the base URL means "up"; the body is not documented.
    return Call("availability", "GET", "/", parse=lambda body: None, expects_json=False)


def countries_call() -> Call:
    return Call("getCountries", "GET", "/getCountries", parse_countries)


def services_call(country: int) -> Call:
    return Call("getnumbersstatus", "GET", "/getnumbersstatus", parse_services, params={"country": country})


def rental_countries_call(service: str = "full") -> Call:
    return Call("getRentalCountries", "GET", "/getRentalCountries", parse_rental_countries, params={"service": service})


def price_call(country: int | str | None = None, service: str | None = None) -> Call:
    params = {key: value for key, value in (("country", country), ("service", service)) if value is not None}
    return Call("price", "GET", "/price", parse_price, params=params)


def create_order_call(
    country: int,
    service: str,
    *,
    is_rental: bool = False,
    realphone: bool = False,
    immediate: bool = False,
    ref: str | None = None,
) -> Call:
    body = {
        "country": country,
        "service": service,
        "isRental": is_rental,
        "realphone": realphone,
        "immediate": immediate,
    }
    if ref:
        body["ref"] = ref
    parse = parse_paid_order if immediate else parse_created_order
    return Call("createorder", "POST", "/createorder", parse, body=body, needs_key=immediate)


def order_status_call(order_id: str) -> Call:
    return Call("orderstatus", "GET", "/orderstatus", parse_order_status, params={"orderId": order_id})


def cancel_order_call(order_id: str) -> Call:
    # GET with a query per the docs (one public client POSTs JSON instead; unverified).
    return Call("cancelorder", "GET", "/cancelorder", parse_cancel, params={"orderId": order_id})


def create_send_order_call(
    phone: str, message: str, *, webhook_url: str | None = None, immediate: bool = False, ref: str | None = None
) -> Call:
    body = {"phone": phone, "message": message, "immediate": immediate}
    if webhook_url:
        body["webhookUrl"] = webhook_url
    if ref:  # not on the docs page, but sent by BlitzWallet; the referral is the operator's income
        body["ref"] = ref
    parse = parse_paid_order if immediate else parse_created_order
    return Call("createsendorder", "POST", "/createsendorder", parse, body=body, needs_key=immediate)


def fund_call(amount: int) -> Call:
    return Call("fund", "POST", "/fund", parse_created_order, body={"amount": amount}, needs_key=True)


def balance_call() -> Call:
    return Call("balance", "GET", "/balance", parse_balance, needs_key=True)


def history_call() -> Call:
    return Call("history", "GET", "/history", parse_history, needs_key=True)


def error_reason(body: Any) -> str | None:
    """The reason of an error envelope ``{"status": "error", "reason": ...}`` (or ``error``), if any."""
    if isinstance(body, dict):
        reason = _first(body, "reason", "error")
        if reason is not None and clean_reason(reason):
            return clean_reason(reason)[:500]
    return None
