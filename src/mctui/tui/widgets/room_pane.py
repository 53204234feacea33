"""One joined room: title, badges, each participant with a live meter, and your own microphone.

The pane renders a ``Call``'s state and nothing else; key presses go to the app, which sends
intents to the engine. All participant rows are drawn by one widget in one ``render`` so a meter
update costs one repaint per room, never a relayout (only people coming or going change layout).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from mctui.display import fit_cells
from mctui.engine import Call, Participant
from mctui.engine.state import AudioMode, CallConnection
from mctui.tui.widgets.meter import MIN_DB, PeakHold, render_meter

#: Replaces live levels in snapshots: (call, participant) -> (level dBFS, peak dBFS).
LevelSource = Callable[[Call, Participant], tuple[float, float]]
NAME_WIDTH = 16
DB_WIDTH = 8


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


@dataclass
class Row:
    label: str
    speaking: bool
    level: float
    peak: float
    muted: bool
    #: Not heard (a suspended room): drawn dim, from the SFU's speaking activity.
    dim: bool = False
    #: Your mic sends nothing here, and not because you muted it: why, in a word ("not sent":
    #: the room is in the background or was joined with the mic off; "no mic": a viewer).
    off: str | None = None

    def visible_key(self) -> tuple[object, ...]:
        """What the row shows, at the resolution it is drawn (0.5 dB, whole-dB text)."""
        return (
            self.label,
            self.speaking,
            self.muted,
            self.dim,
            self.off,
            round(self.level * 2),
            round(self.peak),
        )


def render_row(row: Row, width: int) -> Text:
    silent = row.muted or row.off is not None
    marker = "✕" if row.muted else ("·" if row.off else ("●" if row.speaking else "○"))
    name = fit_cells(f"{marker} {row.label}", NAME_WIDTH)
    name += " " * (NAME_WIDTH - cell_len(name))  # padded by cells: a wide name keeps the border
    text = Text(name, style="bold green" if row.speaking and not silent else "")
    if row.muted:
        db = "muted"
    elif row.off is not None:
        db = row.off
    elif row.level > MIN_DB:
        db = f"{row.level:.0f} dB"
    else:
        db = "-∞ dB"
    bar_width = max(4, width - NAME_WIDTH - DB_WIDTH - 1)
    text.append_text(render_meter(bar_width, row.level, row.peak, silent))
    text.append(" " + db.rjust(DB_WIDTH))
    if row.dim:
        text.stylize("dim")
    return text


class ParticipantRows(Widget):
    """All meter rows of one room (remote participants, or your own mic)."""

    DEFAULT_CSS = "ParticipantRows { height: auto; }"

    def __init__(self, clock: Callable[[], float], classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._clock = clock
        self._rows: list[Row] = []
        self._peaks: dict[str, PeakHold] = {}
        self._drawn: tuple[tuple[object, ...], ...] = ()

    def set_rows(self, rows: list[tuple[str, Row]]) -> None:
        """``(key, row)`` pairs; the key keeps each meter's peak-hold across updates."""
        keys = {key for key, _ in rows}
        for key in [k for k in self._peaks if k not in keys]:
            del self._peaks[key]
        for key, row in rows:
            if row.level <= MIN_DB:  # silent or suspended: no stale peak marker
                self._peaks.pop(key, None)
                row.peak = MIN_DB - 1
                continue
            hold = self._peaks.setdefault(key, PeakHold(self._clock))
            row.peak = hold.update(row.level, row.peak)
        resized = len(rows) != len(self._rows)
        self._rows = [row for _, row in rows]
        visible = tuple(row.visible_key() for row in self._rows)
        if visible == self._drawn and not resized:
            return  # nothing a person could see has changed: no repaint
        self._drawn = visible
        self.refresh(layout=resized)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._rows)

    def render(self) -> Text:
        width = self.size.width
        return Text("\n").join(render_row(row, width) for row in self._rows)


class RoomPane(Vertical):
    """A pane for one active call. A click on it asks for the focus (``RoomPane.Clicked``)."""

    class Clicked(Message):
        """The user clicked this room's pane: move the focus here."""

        def __init__(self, cid: str) -> None:
            super().__init__()
            self.cid = cid

    def __init__(
        self,
        call: Call,
        number: int,
        *,
        is_focused: Callable[[Call], bool],
        clock: Callable[[], float] = time.monotonic,
        levels: LevelSource | None = None,
    ) -> None:
        super().__init__(classes="room")
        self.call = call
        self._is_focused = is_focused
        self.number = number
        self._levels = levels or _live_levels
        self._title = Static(classes="title")
        self._badges = Static(classes="badges")
        self._people = ParticipantRows(clock, classes="people")
        self._local = ParticipantRows(clock, classes="local")
        self._header: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="header"):
            yield self._title
            yield self._badges
        yield self._people
        yield self._local

    def on_mount(self) -> None:
        self.refresh_call()

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self.call.cid))

    def refresh_call(self) -> None:
        """Title, badges and focus styling (on state changes, not on level updates).

        The focus is read from the engine at each refresh, never remembered, so a pane cannot
        show a focus that has moved on.
        """
        focused = self._is_focused(self.call)
        self.set_class(focused, "-focused")
        self.set_class(self.call.state.audio_mode is AudioMode.SUSPENDED, "-suspended")
        self.set_class(self.call.state.audio_mode is AudioMode.DUCKED, "-ducked")
        arrow = "▶ " if focused else "  "
        title = f"{arrow}{self.number} {self.call.id}  [dim]{self.call.type.value}[/]"
        badges = " ".join(f"[reverse] {b} [/]" for b in badges_for(self.call, focused))
        if (title, badges) != self._header:
            self._header = (title, badges)
            self._title.update(title)
            self._badges.update(badges)
        self.refresh_levels()

    def refresh_levels(self) -> None:
        """Meters of every participant and of your microphone: one repaint each."""
        state = self.call.state
        audible = state.audio_mode is not AudioMode.SUSPENDED
        rows = []
        for participant in state.remote_participants:
            # a suspended room still shows who talks (the SFU's activity), dimmed
            level, peak = self._levels(self.call, participant)
            rows.append(
                (
                    participant.user.id,
                    Row(
                        participant.user.display_name
                        + (" (reconnecting)" if participant.away else ""),
                        participant.is_speaking,
                        level,
                        peak,
                        participant.audio_muted,
                        dim=not audible or participant.away,
                    ),
                )
            )
        self._people.set_rows(rows)
        local = state.local_participant
        if local is not None:
            level, peak = self._levels(self.call, local)
            # "muted" only when you muted this room; else say why nothing of yours goes there
            muted = state.can_publish and self.call.muted_by_user
            off = None
            if not state.can_publish:
                off = "no mic"
            elif not muted and not state.is_capturing:
                off = "not sent"
            label = "You" + ("" if state.can_publish else " (viewer)")
            speaking = local.is_speaking  # the engine's detector, with its hysteresis
            self._local.set_rows([("local", Row(label, speaking, level, peak, muted, off=off))])
