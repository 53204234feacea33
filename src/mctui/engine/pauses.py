"""Garbage-collector pauses kept out of the audio.

A client joined to its rooms holds some 120 000 long-lived objects (aiortc's connections, numpy,
the UI). Python's full collection walks every one of them: 50-70 ms on a 2-core machine, a few
times a minute, and the device frames due meanwhile play late (Tab through the app measured a
p99 of ~100 ms from them alone; 45 ms with this). Once a call is joined its objects live as long
as it does, so they are frozen (``gc.freeze``) and a full collection walks only what was made
since. When a call leaves or reconnects, its old objects may be garbage in cycles: everything is
unfrozen so that the next collection frees them, and frozen again at the next join.
"""

from __future__ import annotations

import gc

from mctui.engine.bridge import BridgeEvent, CallChanged, CallJoined, CallLeft
from mctui.engine.state import CallConnection


class PauseGuard:
    """Feed it a UI's bridge events; it freezes after each join and thaws after each leave."""

    def __init__(self) -> None:
        self._joined: set[str] = set()

    def observe(self, event: BridgeEvent) -> None:
        match event:
            case CallJoined(call=call) | CallChanged(call=call):
                joined = call.state.connection is CallConnection.JOINED
                if joined and call.cid not in self._joined:
                    self._joined.add(call.cid)
                    gc.freeze()
                elif not joined and call.cid in self._joined:
                    self._joined.discard(call.cid)  # reconnecting: its old media may be garbage
                    gc.unfreeze()
            case CallLeft(call=call):
                self._joined.discard(call.cid)
                gc.unfreeze()
            case _:
                pass

    @property
    def frozen(self) -> int:
        """How many objects the collector skips now."""
        return gc.get_freeze_count()
