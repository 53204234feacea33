"""One joined room: title, badges, each participant with a live meter, and your own microphone.

The pane renders a ``Call``'s state and nothing else; key presses go to the app, which sends
intents to the engine. All participant rows are drawn by one widget in one ``render`` so a meter
update costs one repaint per room, never a relayout (only people coming or going change layout).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from mctui.display import fit_cells
from mctui.engine import Call, Participant
from mctui.engine.state import AudioMode, CallConnection
from mctui.tui.widgets.meter import MIN_DB, Look, PeakHold, meter_cells, meter_runs

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

    @property
    def silent(self) -> bool:
        return self.muted or self.off is not None

    def db_text(self) -> str:
        if self.muted:
            return "muted"
        if self.off is not None:
            return self.off
        if self.level > MIN_DB:
            return f"{self.level:.0f} dB"
        return "-∞ dB"

    def visible_key(self, width: int) -> RowKey:
        """What the row shows at ``width`` cells, at the resolution it is drawn (the meter's
        eighths and peak cell, whole-dB text): two rows with one key draw the same cells."""
        eighths, peak_cell = meter_cells(bar_width(width), self.level, self.peak)
        return RowKey(
            self.label,
            self.speaking and not self.silent,
            self.muted,
            self.dim,
            self.off,
            self.db_text(),
            eighths,
            peak_cell,
            width,
        )


class RowKey(NamedTuple):
    """Everything one participant row shows: the cache key of its rendered line."""

    label: str
    speaking: bool
    muted: bool
    dim: bool
    off: str | None
    db: str
    eighths: int
    peak_cell: int | None
    width: int

    @property
    def marker(self) -> str:
        return "✕" if self.muted else ("·" if self.off else ("●" if self.speaking else "○"))

    def name_cells(self) -> str:
        """Marker and name, cut and padded to the name column by cells (a wide name keeps the
        border where it is)."""
        name = fit_cells(f"{self.marker} {self.label}", NAME_WIDTH)
        return name + " " * (NAME_WIDTH - cell_len(name))

    def plain(self) -> str:
        runs = meter_runs(bar_width(self.width), self.eighths, self.peak_cell, self.muted)
        bar = "".join(chars for chars, _, _ in runs)
        return f"{self.name_cells()}{bar} {self.db.rjust(DB_WIDTH)}"


def bar_width(width: int) -> int:
    return max(4, width - NAME_WIDTH - DB_WIDTH - 1)


DIM = Style(dim=True)
BOLD = Style(bold=True)
LOOKS: dict[Look, Style | None] = {"": None, "dim": DIM, "bold": BOLD}


class ParticipantRows(Widget):
    """All meter rows of one room (remote participants, or your own mic), on the Line API.

    Each row is one line rendered by ``render_line`` from a ``Strip`` cached by what the row
    shows (``RowKey``); a new set of rows repaints only the lines whose key changed, and lays
    out only when the number of rows does. Colours come from the component classes, resolved
    once per theme (Textual caches them and clears the cache when the CSS changes).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "meter--low",
        "meter--mid",
        "meter--high",
        "meter--speaking",
    }
    DEFAULT_CSS = """
    ParticipantRows { height: auto; }
    ParticipantRows > .meter--low { color: ansi_green; }
    ParticipantRows > .meter--mid { color: ansi_yellow; }
    ParticipantRows > .meter--high { color: ansi_red; }
    ParticipantRows > .meter--speaking { color: ansi_green; text-style: bold; }
    """

    def __init__(self, clock: Callable[[], float], classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._clock = clock
        self._rows: list[Row] = []
        self._keys: list[RowKey] = []
        self._peaks: dict[str, PeakHold] = {}
        self._strips: LRUCache[tuple[RowKey, Style], Strip] = LRUCache(256)

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
        self._rows = [row for _, row in rows]
        width = self.size.width
        drawn = self._keys
        self._keys = [row.visible_key(width) for row in self._rows]
        if len(drawn) != len(self._keys):
            self.refresh(layout=True)  # someone came or went: the only layout rows cause
            return
        for y, (before, now) in enumerate(zip(drawn, self._keys, strict=True)):
            if before != now:
                self.refresh(Region(0, y, width, 1))

    @property
    def holding_peak(self) -> bool:
        """A peak marker is up and will fall by itself: the display must look again."""
        return any(hold.holding for hold in self._peaks.values())

    def lines(self) -> list[str]:
        """The rows as plain text (what a screen reader or a test reads)."""
        width = self.size.width
        return [row.visible_key(width).plain() for row in self._rows]

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self._rows)

    def on_resize(self, event: events.Resize) -> None:
        self._keys = [row.visible_key(event.size.width) for row in self._rows]

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.size.width
        if y >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[y]
        if key.width != width:  # a resize not yet seen by on_resize
            key = self._keys[y] = self._rows[y].visible_key(width)
        cached = self._strips.get((key, base))
        if cached is None:
            cached = self._strips[(key, base)] = self._render_row(key, base)
        return cached

    def _render_row(self, key: RowKey, base: Style) -> Strip:
        def style(extra: Style | None) -> Style:
            if key.dim:
                extra = DIM if extra is None else extra + DIM
            return base if extra is None else base + extra

        speaking = self.get_component_rich_style("meter--speaking", partial=True)
        segments = [Segment(key.name_cells(), style(speaking if key.speaking else None))]
        for chars, band, look in meter_runs(
            bar_width(key.width), key.eighths, key.peak_cell, key.muted
        ):
            if band is None:
                segments.append(Segment(chars, style(None)))
                continue
            colour = self.get_component_rich_style(f"meter--{band}", partial=True)
            shade = LOOKS[look]
            segments.append(Segment(chars, style(colour if shade is None else shade + colour)))
        segments.append(Segment(" " + key.db.rjust(DB_WIDTH), style(None)))
        return Strip(segments).crop_extend(0, key.width, base)


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

    @property
    def holding_peak(self) -> bool:
        """A peak marker of this pane will fall by itself: the display must look again."""
        return self._people.holding_peak or self._local.holding_peak

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
