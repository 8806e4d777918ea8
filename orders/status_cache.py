"""What an order's status poll needs to answer "nothing changed", kept in Redis.

A page polls its order every 2 s and nearly always gets a 204. Deciding that from this small entry instead
of the order's row takes the database off the hottest path of the site. The entry holds no personal data:
whether the engine still watches the order, the moment a cancel becomes possible, and the two versions
the page can be showing (before and after that moment).

Who writes it:
- the lifecycle, after each commit that changes what the page shows (``remember``), with ``SET``;
- the status view, on a miss, from the row it read (``fill``), with ``SET NX``: a view that read the row just
  before a change committed can never overwrite the lifecycle's newer entry.

A write that went around the lifecycle is seen at the latest when the entry expires (``TTL``). Redis
trouble is never the buyer's: any failure here falls back to reading the row.
"""

import logging
from typing import NamedTuple

from sms4sats_site.shared_redis import shared_key, shared_redis

from .models import Kind

log = logging.getLogger(__name__)

# Bounds how long a write that bypassed the lifecycle (or two writers racing) could answer 204 wrongly.
TTL = 30


class PollState(NamedTuple):
    live: bool
    cancel_opens_at: float | None  # epoch seconds; None while this state can never be canceled
    version: str  # what the page shows before a cancel is possible
    version_cancelable: str | None  # ... and after

    @classmethod
    def of(cls, order):
        opens = order.cancel_opens_at()
        return cls(
            live=order.is_live,
            cancel_opens_at=opens.timestamp() if opens else None,
            version=order.status_version(can_cancel=False),
            version_cancelable=order.status_version(can_cancel=True) if opens else None,
        )

    def version_at(self, now):
        """The version the page shows at ``now`` (epoch seconds)."""
        if self.cancel_opens_at is not None and now >= self.cancel_opens_at:
            return self.version_cancelable
        return self.version

    def encode(self):
        opens = "" if self.cancel_opens_at is None else repr(self.cancel_opens_at)
        return f"{int(self.live)}|{opens}|{self.version}|{self.version_cancelable or ''}"

    @classmethod
    def decode(cls, raw):
        live, opens, version, cancelable = raw.decode().split("|")
        return cls(live == "1", float(opens) if opens else None, version, cancelable or None)


def key(public_id):
    return shared_key(f"order-status:{public_id}")


def recall(public_id):
    try:
        raw = shared_redis().get(key(public_id))
        return PollState.decode(raw) if raw else None
    except Exception as exc:  # Redis down or slow, or an entry in another shape: the row answers instead
        log.warning("Status cache unavailable (%s); reading the order row", type(exc).__name__)
        return None


def _write(order, only_if_missing):
    if order.kind == Kind.FUND:  # not on the storefront: its status URL must stay a 404
        return
    try:
        shared_redis().set(key(order.public_id), PollState.of(order).encode(), ex=TTL, nx=only_if_missing)
    except Exception as exc:
        log.warning("Could not write the status cache of order %s (%s)", order.public_id, type(exc).__name__)


def remember(order):
    """The lifecycle changed ``order``: replace its entry (call after the commit)."""
    _write(order, only_if_missing=False)


def fill(order):
    """A view read ``order``'s row: store its state unless a fresher one is there."""
    _write(order, only_if_missing=True)
