"""A subscription that carries nothing, found from what the SFU says and what arrives.

The SFU tells every participant who is talking in the call (RFC 6464 levels it reads, Janus's
``talking`` events), suspended calls included; the playout counts the frames that arrive from
each. Someone the SFU hears talking while nothing of theirs arrives here for a few seconds means
this client's subscription is broken in a way no connection state shows (a Janus handle lost
in a restart, a subscription to the wrong room): the call rebuilds its media, as it does when a
connection fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

#: Seconds someone may talk, per the SFU, with nothing of theirs arriving here.
STARVED_AFTER_S = 3.0


class ReceiveWatch:
    """Per participant: when we last saw their received count move while they talked."""

    def __init__(
        self, after_s: float = STARVED_AFTER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.after_s = after_s
        self._clock = clock
        self._counts: dict[str, int] = {}
        #: participant -> since when they talk with nothing arriving
        self._silent_since: dict[str, float] = {}

    def check(self, talking: set[str], received: Mapping[str, int]) -> list[str]:
        """Those who talked, per the SFU, with nothing of theirs arriving for ``after_s``."""
        now = self._clock()
        starved = []
        for user_id in talking:
            count = received.get(user_id, 0)
            moved = user_id in self._counts and count != self._counts[user_id]
            self._counts[user_id] = count  # the first sighting starts the clock
            if moved:
                self._silent_since.pop(user_id, None)
                continue
            since = self._silent_since.setdefault(user_id, now)
            if now - since >= self.after_s:
                starved.append(user_id)
        for user_id in list(self._silent_since):
            if user_id not in talking:
                del self._silent_since[user_id]
        return sorted(starved)

    def reset(self) -> None:
        """Forget everything (new connections count from zero)."""
        self._counts.clear()
        self._silent_since.clear()
