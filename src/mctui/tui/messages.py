"""Messages from the engine's observables to the widgets.

Level updates are *replaceable*: while one is waiting in a widget's queue, a newer one for the
same call replaces it, so a slow terminal never builds a backlog of meter frames.
"""

from __future__ import annotations

from textual.message import Message


class CallsChanged(Message):
    """The set or order of active calls changed."""


class CallChanged(Message):
    """Something other than levels changed in one call (mode, mic, participants, connection)."""

    def __init__(self, cid: str) -> None:
        super().__init__()
        self.cid = cid

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CallChanged) and message.cid == self.cid


class LevelsChanged(Message):
    """New meter levels for one call."""

    def __init__(self, cid: str) -> None:
        super().__init__()
        self.cid = cid

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LevelsChanged) and message.cid == self.cid


class RingChanged(Message):
    """The incoming call appeared or went away."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RingChanged)


class NoticeChanged(Message):
    """A notice from the audio path: ``warning`` (null device in use) or ``error`` (lost)."""

    def __init__(self, notice: str, severity: str = "warning") -> None:
        super().__init__()
        self.notice = notice
        self.severity = severity
