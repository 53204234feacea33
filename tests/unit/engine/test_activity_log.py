"""The activity strip's bookkeeping: one cell a second, the last speaker, unheard speech."""

from __future__ import annotations

from mctui.engine.activity import HISTORY_S, ActivityLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_fills_the_seconds_it_lasted_and_names_the_speaker() -> None:
    clock = Clock()
    log = ActivityLog(clock)
    log.roll()
    log.observe(["Ann"], suspended=False)  # Ann starts talking ...
    clock.now += 1
    log.roll()
    clock.now += 1
    log.roll()  # ... still talking: the second cell too
    log.observe([], suspended=False)  # ... and stops
    clock.now += 1
    log.roll()  # this second saw her stop
    clock.now += 1
    activity = log.roll()
    assert len(activity.seconds) == HISTORY_S
    assert activity.seconds[-5:] == (False, True, True, True, False)
    assert activity.last_speaker == "Ann" and activity.last_spoke_ago(clock.now) == 2.0
    assert not activity.unheard


def test_speech_while_suspended_is_unheard_until_heard() -> None:
    log = ActivityLog(Clock())
    log.observe(["Bo"], suspended=True)
    assert log.roll().unheard
    log.observe([], suspended=True)
    assert log.roll().unheard  # it stays until the user hears the room
    log.heard()
    assert not log.activity.unheard and not log.roll().unheard


def test_a_blip_between_two_rolls_still_marks_its_second() -> None:
    """The SFU reports changes at most 10 times a second: a word that starts and stops between
    two rolls still fills its cell."""
    log = ActivityLog(Clock())
    log.observe(["Cy"], suspended=False)
    log.observe([], suspended=False)
    assert log.roll().seconds[-1] is True
    assert log.roll().seconds[-1] is False
