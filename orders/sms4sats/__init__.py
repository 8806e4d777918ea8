"""The sms4sats client, in two modules:

- ``contract``: the API as this shop relies on it: errors, typed results, tolerant parsers, and one
  ``Call`` (request and parser) per endpoint; no I/O;
- ``transport``: the sync and async clients that execute calls; every call's outcome passes through
  ``transport.settle`` and is reported once to ``transport.observe_outcome``.

The rest of the shop imports from here: ``from orders.sms4sats import get_client, UpstreamUnavailable``.
"""

from .contract import (
    AUTO_SELECT,
    Call,
    Country,
    CreatedOrder,
    History,
    HistoryEntry,
    OrderStatus,
    Price,
    RentalCountry,
    Service,
    Sms4satsError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamUnavailable,
    parse_balance,
    parse_cancel,
    parse_countries,
    parse_created_order,
    parse_history,
    parse_order_status,
    parse_paid_order,
    parse_price,
    parse_rental_countries,
    parse_services,
)
from .transport import CONNECT_TIMEOUT, AsyncSms4satsClient, Sms4satsClient, get_client, observe_outcome, settle

__all__ = [
    "AUTO_SELECT",
    "CONNECT_TIMEOUT",
    "AsyncSms4satsClient",
    "Call",
    "Country",
    "CreatedOrder",
    "History",
    "HistoryEntry",
    "OrderStatus",
    "Price",
    "RentalCountry",
    "Service",
    "Sms4satsClient",
    "Sms4satsError",
    "UpstreamMalformed",
    "UpstreamRejected",
    "UpstreamUnavailable",
    "get_client",
    "observe_outcome",
    "parse_balance",
    "parse_cancel",
    "parse_countries",
    "parse_created_order",
    "parse_history",
    "parse_order_status",
    "parse_paid_order",
    "parse_price",
    "parse_rental_countries",
    "parse_services",
    "settle",
]
