"""Alerts that do not flap: a change alerts once it has lasted (ALERT_HOLD_SECONDS / ALERT_CLEAR_SECONDS), at most
ALERT_MAX_PER_HOUR go out an hour, and what was held back is told in one summary. Time is simulated (the checks'
clock), not slept."""

import pytest

from alerts import checks, tasks
from alerts.models import AlertLog, Event
from orders import process_health
from orders.sms4sats import upstream_health


class Clock:
    def __init__(self, start=1_800_000_000.0):  # a round hour
        self.at = start

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(checks, "clock", clock)
    return clock


@pytest.fixture
def sms4sats(monkeypatch):
    """The shared health state the upstream check reads, set by the test."""
    process_health.record_heartbeat(process_health.CREATOR)  # the minute's other checks find nothing wrong
    state = {"known": True, "up": True, "failures": 0, "last_error": "", "since": 0.0}
    monkeypatch.setattr(upstream_health, "state", lambda: dict(state))
    return state


@pytest.fixture(autouse=True)
def hysteresis(settings):
    settings.ALERT_URLS = "json://127.0.0.1:9/alerts"  # logged only: delivery waits for a commit the test never makes
    settings.ALERT_HOLD_SECONDS = 60
    settings.ALERT_CLEAR_SECONDS = 120
    settings.ALERT_MAX_PER_HOUR = 10


def sent():
    return list(AlertLog.objects.order_by("pk").values_list("event", flat=True))


def run(clock, sms4sats, seconds, down_at):
    """Advance second by second: the upstream check at each transition (as its task is enqueued) and the
    minute's checks every 60 s (beat)."""
    for _ in range(seconds):
        clock.at += 1
        t = clock.at - START
        down = down_at(t)
        if down == sms4sats["up"]:
            sms4sats["up"] = not down
            tasks.upstream_changed.run()
        if t % 60 == 0:
            tasks.check_conditions.run()


START = Clock().at


def test_sms4sats_flapping_every_5_s_for_2_minutes_sends_at_most_2_alerts_and_one_summary(db, clock, sms4sats):
    run(clock, sms4sats, 120, down_at=lambda t: (t // 5) % 2 == 0)
    assert len(sent()) <= 2
    run(clock, sms4sats, 3600, down_at=lambda t: False)  # the next hour: the flaps are told once
    assert sent().count(Event.SUPPRESSED) == 1
    assert len([e for e in sent() if e != Event.SUPPRESSED]) <= 2
    summary = AlertLog.objects.get(event=Event.SUPPRESSED)
    assert "sms4sats not answering: 13 flap(s) too short to alert" in summary.body  # down at 1, 10, 20… 120 s


def test_an_outage_alerts_once_it_held_and_recovers_once_it_stayed_clear(db, clock, sms4sats):
    run(clock, sms4sats, 59, down_at=lambda t: t >= 1)
    assert sent() == []  # down for 58 s: not yet
    run(clock, sms4sats, 241, down_at=lambda t: t < 300)
    assert sent() == [Event.UPSTREAM_DOWN]
    run(clock, sms4sats, 119, down_at=lambda t: False)
    assert sent() == [Event.UPSTREAM_DOWN]  # answering for under 120 s: no "back" yet
    run(clock, sms4sats, 120, down_at=lambda t: False)
    assert sent() == [Event.UPSTREAM_DOWN, Event.UPSTREAM_UP]
    assert "(after 5 min)" in AlertLog.objects.get(event=Event.UPSTREAM_UP).body


def test_a_short_recovery_in_an_outage_sends_nothing(db, clock, sms4sats):
    run(clock, sms4sats, 600, down_at=lambda t: not 200 <= t < 260)  # back for a minute in the middle
    assert sent() == [Event.UPSTREAM_DOWN]


def test_at_most_the_hourly_cap_then_one_summary(db, clock, settings):
    settings.ALERT_MAX_PER_HOUR = 2
    for _ in range(3):  # three lasting outages of the creation lag in one hour: six changes
        for active in (True, False):
            checks.update("creation", active, "creation")
            clock.at += 200
            checks.update("creation", active, "creation")
    assert sent() == [Event.CREATION_LAGGING, Event.CREATION_CAUGHT_UP]
    assert checks.send_summary() is None  # the hour is not over
    clock.at += 3600
    assert checks.send_summary() == 4
    assert checks.send_summary() is None  # told once
    summary = AlertLog.objects.get(event=Event.SUPPRESSED)
    assert "creation lagging: 2 alert(s) over ALERT_MAX_PER_HOUR" in summary.body


def test_two_checks_at_once_after_the_hold_send_one_alert(db, clock):
    assert checks.update("refunds", True, "x") is None
    clock.at += 60
    assert checks.update("refunds", True, "x") == Event.REFUNDS_HIGH
    assert checks.update("refunds", True, "x") is None
    assert sent() == [Event.REFUNDS_HIGH]
