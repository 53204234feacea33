"""Who spoke when in one room: a strip of the last two minutes, second by second, the last
speaker, and whether something was said while the room was suspended ("unheard").

Fed by the SFU's speaking activity (``call.levels``), so a suspended room has one too, and rolled
once a second by the client's audio tick; the ``Call`` owns one ``ActivityLog`` and publishes its
``Activity`` as ``call.state.activity`` (one write a second, only when it changed)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: How far back the strip goes, in one-second cells.
HISTORY_S = 120


@dataclass(frozen=True)
class Activity:
    """``call.state.activity``: the room's speech over the last ``HISTORY_S`` seconds."""

    #: One cell a second, oldest first, the last one the second that just ended: True if
    #: anyone spoke in it.
    seconds: tuple[bool, ...] = (False,) * HISTORY_S
    #: Who spoke last (a display name) and when (``time.monotonic()``); None: nobody yet.
    last_speaker: str | None = None
    last_spoke_at: float | None = None
    #: Someone spoke while the room was suspended, and the user has not focused or replayed it
    #: since.
    unheard: bool = False

    def last_spoke_ago(self, now: float | None = None) -> float | None:
        """Seconds since the last speech (None: nobody spoke)."""
        if self.last_spoke_at is None:
            return None
        return max(0.0, (time.monotonic() if now is None else now) - self.last_spoke_at)


class ActivityLog:
    """Builds a room's ``Activity`` from the SFU's talk reports and a once-a-second roll."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cells: deque[bool] = deque([False] * HISTORY_S, maxlen=HISTORY_S)
        self._talking: frozenset[str] = frozenset()
        self._spoke_this_second = False
        self._last_speaker: str | None = None
        self._last_spoke_at: float | None = None
        self._unheard = False
        self.activity = Activity()

    def observe(self, talking_names: Iterable[str], *, suspended: bool) -> None:
        """The SFU's latest word on who talks now (display names); ``suspended``: the user
        does not hear this room now."""
        talking = frozenset(talking_names)
        self._talking = talking
        if talking:
            self._spoke_this_second = True
            self._last_speaker = sorted(talking)[0]
            self._last_spoke_at = self._clock()
            if suspended:
                self._unheard = True

    def heard(self) -> None:
        """The user focused or replayed the room: nothing in it is unheard any more."""
        self._unheard = False
        self.activity = self._snapshot()

    def roll(self) -> Activity:
        """One second passed: the second's cell joins the strip. Returns the new activity."""
        self._cells.append(self._spoke_this_second)
        self._spoke_this_second = bool(self._talking)  # still talking: the next second too
        if self._talking:
            self._last_spoke_at = self._clock()
        self.activity = self._snapshot()
        return self.activity

    def _snapshot(self) -> Activity:
        return Activity(
            seconds=tuple(self._cells),
            last_speaker=self._last_speaker,
            last_spoke_at=self._last_spoke_at,
            unheard=self._unheard,
        )
