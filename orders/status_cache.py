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

from django.conf import settings

from sms4sats_site.shared_redis import shared_key, shared_redis

from . import metrics
from .models import Kind
from .sms4sats import upstream_health

log = logging.getLogger(__name__)

# Bounds how long a write that bypassed the lifecycle (or two writers racing) could answer 204 wrongly.
TTL = 30


class PollState(NamedTuple):
    live: bool
    # (from epoch seconds, version): what the page shows from that moment on. The first starts at 0; later
    # ones at the moments the page changes by the clock alone (a cancel opens, a local deadline passes).
    versions: tuple

    @classmethod
    def of(cls, order):
        opens = order.cancel_opens_at()
        deadline = order.local_deadline()
        moments = sorted({m.timestamp() for m in (opens, deadline) if m is not None})
        versions = [(0.0, order.status_version(can_cancel=False, awaiting=False))]
        for moment in moments:
            can_cancel = opens is not None and moment >= opens.timestamp()
            awaiting = deadline is not None and moment >= deadline.timestamp()
            versions.append((moment, order.status_version(can_cancel=can_cancel, awaiting=awaiting)))
        return cls(live=order.is_live, versions=tuple(versions))

    def version_at(self, now):
        """The version the page shows at ``now`` (epoch seconds)."""
        shown = self.versions[0][1]
        for moment, version in self.versions[1:]:
            if now < moment:
                break
            shown = version
        return shown

    def encode(self):
        return f"{int(self.live)}|" + ",".join(f"{moment!r}:{version}" for moment, version in self.versions)

    @classmethod
    def decode(cls, raw):
        live, versions = raw.decode().split("|")
        pairs = (item.split(":") for item in versions.split(","))
        return cls(live == "1", tuple((float(moment), version) for moment, version in pairs))


def page_version(version, live, upstream_down):
    """The version a page shows: a live order's page also shows whether sms4sats answers (its banner)."""
    return f"{version}-down" if live and upstream_down else version


def key(public_id):
    return shared_key(f"order-status:{public_id}")


def watch_key(public_id):
    return shared_key(f"order-watched:{public_id}")


def asked_key(public_id):
    return shared_key(f"order-asked:{public_id}")


class Poll(NamedTuple):
    state: PollState | None
    upstream_down: bool
    asked_at: float | None  # when the engine last applied sms4sats' answer about the order (epoch seconds)


def poll(public_id):
    """One round trip for a page's status poll: mark the order as watched (the engine then asks sms4sats
    about it every POLL_FAST_SECONDS), read its entry, whether sms4sats answers and when the engine last asked
    about it."""
    try:
        pipe = shared_redis().pipeline(transaction=False)
        pipe.set(watch_key(public_id), 1, ex=settings.ORDER_WATCH_SECONDS)
        pipe.get(key(public_id))
        pipe.get(upstream_health.down_key())
        pipe.get(asked_key(public_id))
        metrics.add_to_pipeline(pipe)  # the answers counted since the last flush, once a second, same round trip
        _, raw, down, asked, *_ = pipe.execute()
        return Poll((PollState.decode(raw) if raw else None), down is not None, float(asked) if asked else None)
    except Exception as exc:  # Redis down or slow, or an entry in another shape: the row answers instead
        log.warning("Status cache unavailable (%s); reading the order row", type(exc).__name__)
        return Poll(None, False, None)


def note_asked(public_ids, at):
    """The engine applied sms4sats' answers about ``public_ids`` (watched orders) at ``at`` (epoch seconds): their
    pages time their next poll by it (``next_poll_in``). Kept for two looks; one write for all of them."""
    if not public_ids:
        return
    try:
        pipe = shared_redis().pipeline(transaction=False)
        for public_id in public_ids:
            pipe.set(asked_key(public_id), repr(at), ex=2 * settings.POLL_FAST_SECONDS + 1)
        pipe.execute()
    except Exception as exc:  # the pages poll on their plain period meanwhile
        log.warning("Could not note when %d orders were asked about (%s)", len(public_ids), type(exc).__name__)


# How long after the engine's expected next look a page asks: the spread of a cycle's length from one look to
# the next. And the shortest wait between two polls of a page.
NEXT_LOOK_MARGIN = 0.25
SHORTEST_POLL_WAIT = 0.5


def next_poll_in(asked_at, now):
    """Seconds until a page polls its order again: just after the engine's next look at sms4sats about it (every
    POLL_FAST_SECONDS, the last one applied at ``asked_at``), so that a code reaches the page a moment after the
    shop learns it, not up to a whole poll period later, at the same number of polls. Unknown: the plain period."""
    period = settings.STATUS_POLL_SECONDS
    if asked_at is None or period != settings.POLL_FAST_SECONDS:
        return period
    wait = period - (now - asked_at - NEXT_LOOK_MARGIN) % period
    return wait + period if wait < SHORTEST_POLL_WAIT else wait


def mark_watched(public_id):
    try:
        shared_redis().set(watch_key(public_id), 1, ex=settings.ORDER_WATCH_SECONDS)
    except Exception as exc:
        log.warning("Could not mark order %s as watched (%s)", public_id, type(exc).__name__)


def watched(public_ids):
    """The subset of ``public_ids`` whose page polled within ORDER_WATCH_SECONDS. On Redis trouble all of
    them count as watched: polling too often is safer for the buyer than too rarely."""
    public_ids = list(public_ids)
    if not public_ids:
        return set()
    try:
        flags = shared_redis().mget([watch_key(pid) for pid in public_ids])
    except Exception:
        return set(public_ids)
    return {pid for pid, flag in zip(public_ids, flags, strict=True) if flag is not None}


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
