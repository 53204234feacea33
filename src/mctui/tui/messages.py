"""Messages the app's screens receive from outside Textual: the engine bridge's events.

Level and call updates are *replaceable*: while one is waiting in a screen's queue, a newer one
for the same call replaces it, so a slow terminal never builds a backlog of meter frames.
(Messages a widget sends, such as ``RoomPane.Clicked``, live on that widget.)
"""

from __future__ import annotations

from textual.message import Message

from mctui.engine.bridge import BridgeEvent, CallChanged, LevelsChanged


class EngineEvent(Message):
    """One change from the engine (a ``mctui.engine.bridge`` event)."""

    def __init__(self, event: BridgeEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        if not isinstance(message, EngineEvent):
            return False
        mine, theirs = self.event, message.event
        replaceable = (LevelsChanged, CallChanged)
        return (
            isinstance(mine, replaceable)
            and type(mine) is type(theirs)
            and mine.call is theirs.call  # type: ignore[union-attr]
        )
