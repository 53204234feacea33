"""One joined room: title, badges, each participant with a live meter, and your own microphone.

The pane renders a ``Call``'s state and nothing else; key presses go to the app, which sends
intents to the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from mctui.engine import Call, Participant
from mctui.engine.state import AudioMode, CallConnection
from mctui.tui.widgets.meter import MIN_DB, LevelMeter

#: Replaces live levels in snapshots: (call, participant) -> (level dBFS, peak dBFS).
LevelSource = Callable[[Call, Participant], tuple[float, float]]


def _live_levels(call: Call, participant: Participant) -> tuple[float, float]:
    return participant.audio_level, participant.audio_peak


def badges_for(call: Call, focused: bool) -> list[str]:
    state = call.state
    badges = []
    if focused:
        badges.append("FOCUS")
    if state.audio_mode is AudioMode.SUSPENDED:
        badges.append("SUSPENDED")
    elif state.audio_mode is AudioMode.DUCKED:
        badges.append("DUCKED")
    if state.ringing is not None or state.outgoing_ring:
        badges.append("RINGING")
    if state.connection is CallConnection.RECONNECTING:
        badges.append("RECONNECTING")
    elif state.connection is CallConnection.JOINING:
        badges.append("JOINING")
    if call.type.value == "livestream":
        badges.append("LIVE")
    return badges


class ParticipantRow(Horizontal):
    DEFAULT_CSS = """
    ParticipantRow { height: 1; }
    ParticipantRow > .name { width: 16; }
    ParticipantRow > .db { width: 8; text-align: right; }
    """

    def __init__(self, key: str, clock: Callable[[], float]) -> None:
        super().__init__()
        self.key = key
        self._label = Static(classes="name")
        self._meter = LevelMeter(clock=clock)
        self._db = Static(classes="db")

    def compose(self) -> ComposeResult:
        yield self._label
        yield self._meter
        yield self._db

    def show(self, label: str, speaking: bool, level: float, peak: float, muted: bool) -> None:
        marker = "●" if speaking and not muted else ("✕" if muted else "○")
        self._label.update(f"{marker} {label}"[:16])
        self._label.set_class(speaking and not muted, "-speaking")
        self._meter.show(level, peak, muted)
        self._db.update("muted" if muted else (f"{level:5.0f} dB" if level > MIN_DB else "  -∞ dB"))


class RoomPane(Vertical):
    """A pane for one active call."""

    def __init__(
        self,
        call: Call,
        number: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        levels: LevelSource | None = None,
    ) -> None:
        super().__init__(classes="room")
        self.call = call
        self.number = number
        self._clock = clock
        self._levels = levels or _live_levels
        self._title = Static(classes="title")
        self._badges = Static(classes="badges")
        self._people = Vertical(classes="people")
        self._local = ParticipantRow("local", clock)
        self._local.add_class("local")
        self._rows: dict[str, ParticipantRow] = {}
        self._focused = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="header"):
            yield self._title
            yield self._badges
        yield self._people
        yield self._local

    def on_mount(self) -> None:
        self.refresh_call(self._focused)

    def refresh_call(self, focused: bool) -> None:
        """Title, badges and focus styling (cheap; called on every state change)."""
        self._focused = focused
        self.set_class(focused, "-focused")
        suspended = self.call.state.audio_mode is AudioMode.SUSPENDED
        self.set_class(suspended, "-suspended")
        self.set_class(self.call.state.audio_mode is AudioMode.DUCKED, "-ducked")
        arrow = "▶ " if focused else "  "
        self._title.update(f"{arrow}{self.number} {self.call.id}  [dim]{self.call.type.value}[/]")
        self._badges.update(" ".join(f"[reverse] {b} [/]" for b in badges_for(self.call, focused)))
        self.refresh_levels()

    def refresh_levels(self) -> None:
        """Participants and meters; rows are added or removed only when people come and go."""
        state = self.call.state
        remotes = state.remote_participants
        keys = [p.user.id for p in remotes]
        if list(self._rows) != keys:
            for key in [k for k in self._rows if k not in keys]:
                self._rows.pop(key).remove()
            for participant in remotes:
                if participant.user.id not in self._rows:
                    row = ParticipantRow(participant.user.id, self._clock)
                    self._rows[participant.user.id] = row
                    self._people.mount(row)
        audible = state.audio_mode is not AudioMode.SUSPENDED
        for participant in remotes:
            level, peak = self._levels(self.call, participant)
            row = self._rows[participant.user.id]
            if row.is_mounted:
                row.show(
                    participant.user.display_name,
                    participant.is_speaking and audible,
                    level if audible else MIN_DB - 1,
                    peak if audible else MIN_DB - 1,
                    participant.audio_muted,
                )
        local = state.local_participant
        if local is not None and self._local.is_mounted:
            level, peak = self._levels(self.call, local)
            muted = not state.microphone_enabled or not state.can_publish
            label = "You" + ("" if state.can_publish else " (viewer)")
            self._local.show(label, state.is_capturing and level > -45, level, peak, muted)
