"""The sandbox's one clock. Every time-driven decision calls ``clock.now()`` (through the module,
so tests can monkeypatch ``sandbox.clock.now`` to move time forward)."""

from django.utils import timezone


def now():
    return timezone.now()
