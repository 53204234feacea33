"""One joined room: title, badges, each participant with a live meter, and your own microphone.

The pane renders a ``Call``'s state and nothing else; key presses go to the app, which sends
intents to the engine. Its title and badges sit in its border; all its rows are one widget on the
Line API that fills the pane, so a meter update repaints the lines that changed and nothing, not
even people coming or going, lays the screen out.
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
from textual.color import Color
from textual.containers import Vertical
from textual.geometry import Region
from textual.markup import escape
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from mctui.display import fit_cells
from mctui.engine import Call, CallType, Participant
from mctui.engine.activity import Activity
from mctui.engine.state import AudioMode, CallConnection
from mctui.engine.volumes import VOLUME_MUTED_DB
from mctui.tui.widgets.activity_strip import ActivityStrip
from mctui.tui.widgets.meter import MIN_DB, Look, PeakHold, meter_cells, meter_runs

#: Replaces live levels in snapshots: (call, participant) -> (level dBFS, peak dBFS).
LevelSource = Callable[[Call, Participant], tuple[float, float]]
#: Replaces a room's live activity in snapshots.
ActivitySource = Callable[[Call], Activity]
NAME_WIDTH = 16
#: How often a pane looks whether its strip's "ago" text moved on.
STRIP_TICK_S = 5.0
DB_WIDTH = 8


def _live_levels(call: Call, participant: Participant) -> tuple[float, float]:
    return participant.audio_level, participant.audio_peak


def _live_activity(call: Call) -> Activity:
    return call.state.activity


def volume_text(volume_db: float) -> str:
    """A room's volume as its badge says it: ``VOL +3``, ``VOL -6``, ``SILENT``."""
    return "SILENT" if volume_db <= VOLUME_MUTED_DB else f"VOL {volume_db:+g}"


def badges_for(call: Call, focused: bool, activity: Activity | None = None) -> list[str]:
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
    if call.type is CallType.LIVESTREAM:
        badges.append("LIVE")
    if state.volume_db != 0.0:
        badges.append(volume_text(state.volume_db))
    if state.pan != 0.0:
        badges.append(pan_text(state.pan))
    if state.transmit:
        badges.append("TX")
    if state.recording is not None:
        badges.append("REC")
    if state.replaying is not None:
        badges.append(f"REPLAY {round(state.replaying * 100)}%")
    if (activity or state.activity).unheard:
        badges.append("UNHEARD")
    return badges


def pan_text(pan: float) -> str:
    """A room's place in the stereo mix as its badge says it: ``L60``, ``R80``."""
    return f"{'L' if pan < 0 else 'R'}{round(abs(pan) * 100)}"


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
    """All meter rows of one room on the Line API: the participants from the top, your own
    microphone on the last line.

    Each row is one line rendered by ``render_line`` from a ``Strip`` cached by what the row
    shows (``RowKey``); a new set of rows repaints only the lines whose key changed. The widget
    fills its pane, so people coming or going repaint it and never lay the screen out. Colours
    come from the component classes, resolved once per theme.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "meter--low",
        "meter--mid",
        "meter--high",
        "meter--speaking",
        "rows--local",
    }
    DEFAULT_CSS = """
    ParticipantRows { height: 1fr; }
    ParticipantRows > .meter--low { color: ansi_green; }
    ParticipantRows > .meter--mid { color: ansi_yellow; }
    ParticipantRows > .meter--high { color: ansi_red; }
    ParticipantRows > .meter--speaking { color: ansi_green; text-style: bold; }
    ParticipantRows > .rows--local { color: $text-muted; }
    """

    def __init__(self, clock: Callable[[], float], classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._clock = clock
        #: The participants' rows, then yours (``_local``: whether the last one is yours).
        self._rows: list[Row] = []
        self._local = False
        self._keys: list[RowKey] = []
        self._peaks: dict[str, PeakHold] = {}
        self._strips: LRUCache[tuple[RowKey, Style], Strip] = LRUCache(256)
        self._looks: dict[str, Style] = {}
        self._bases: tuple[Style, Style] | None = None

    def set_rows(self, people: list[tuple[str, Row]], local: Row | None = None) -> None:
        """``(key, row)`` pairs, the key keeping each meter's peak-hold across updates; and
        your own microphone's row."""
        rows = [*people, ("\0local", local)] if local is not None else people
        keys = {key for key, _ in rows}
        for key in [k for k in self._peaks if k not in keys]:
            del self._peaks[key]
        for key, row in rows:
            if row.level <= MIN_DB:  # silent or suspended: no stale peak marker
                self._peaks.pop(key, None)
                row.peak = MIN_DB - 1
                continue
            hold = self._peaks.get(key)
            if hold is None:
                hold = self._peaks[key] = PeakHold(self._clock)
            row.peak = hold.update(row.level, row.peak)
        width, height = self.size
        drawn, had_local = self._keys, self._local
        self._rows = [row for _, row in rows]
        self._local = local is not None
        self._keys = [row.visible_key(width) for row in self._rows]
        if len(drawn) != len(self._keys) or had_local != self._local:
            self.refresh()  # someone came or went: a repaint (the widget fills its pane)
            return
        for index, (before, now) in enumerate(zip(drawn, self._keys, strict=True)):
            if before != now:
                self.refresh(Region(0, self._line_of(index, height), width, 1))

    def _line_of(self, index: int, height: int) -> int:
        return height - 1 if self._local and index == len(self._rows) - 1 else index

    def _index_at(self, y: int, height: int) -> int | None:
        """The row drawn on line ``y`` (yours on the last line; people above it)."""
        if self._local and y == height - 1:
            return len(self._rows) - 1
        people = len(self._rows) - self._local
        return y if y < people and y < height - self._local else None

    @property
    def holding_peak(self) -> bool:
        """A peak marker is up and will fall by itself: the display must look again."""
        return any(hold.holding for hold in self._peaks.values())

    def lines(self) -> list[str]:
        """The participants' rows as plain text (what a screen reader or a test reads)."""
        width = self.size.width
        return [
            row.visible_key(width).plain() for row in self._rows[: len(self._rows) - self._local]
        ]

    def local_line(self) -> str | None:
        """Your own microphone's row as plain text."""
        return self._rows[-1].visible_key(self.size.width).plain() if self._local else None

    def on_resize(self, event: events.Resize) -> None:
        self._keys = [row.visible_key(event.size.width) for row in self._rows]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks.clear()
        self._bases = None

    def restyle(self) -> None:
        """The pane around the rows changed its look (focus, suspension): draw them anew."""
        self._bases = None
        self.refresh()

    def _look(self, component: str) -> Style:
        """A component class's own style (colour, bold), resolved once per theme."""
        style = self._looks.get(component)
        if style is None:
            style = self._looks[component] = self.get_component_rich_style(component, partial=True)
        return style

    def _blended(self, component: str, base: Style) -> Style:
        """A component's colour laid over the rows' background (``$text-muted`` is a
        translucent colour: drawn as is, it would be white)."""
        colour = self.get_component_styles(component).color
        background = Color.from_rich_color(base.bgcolor) if base.bgcolor else Color(0, 0, 0)
        return Style(color=(background + colour).rich_color)

    def render_line(self, y: int) -> Strip:
        bases = self._bases
        if bases is None:  # resolved once per look of the pane, not per line (it walks the DOM)
            base = self.rich_style
            bases = self._bases = (base, base + self._blended("rows--local", base))
        width, height = self.size
        index = self._index_at(y, height)
        if index is None:
            return Strip.blank(width, bases[0])
        key = self._keys[index]
        if key.width != width:  # a resize not yet seen by on_resize
            key = self._keys[index] = self._rows[index].visible_key(width)
        base = bases[1] if self._local and index == len(self._rows) - 1 else bases[0]
        cached = self._strips.get((key, base))
        if cached is None:
            cached = self._strips[(key, base)] = self._render_row(key, base)
        return cached

    def _render_row(self, key: RowKey, base: Style) -> Strip:
        def style(extra: Style | None) -> Style:
            if key.dim:
                extra = DIM if extra is None else extra + DIM
            return base if extra is None else base + extra

        speaking = self._look("meter--speaking")
        segments = [Segment(key.name_cells(), style(speaking if key.speaking else None))]
        for chars, band, look in meter_runs(
            bar_width(key.width), key.eighths, key.peak_cell, key.muted
        ):
            if band is None:
                segments.append(Segment(chars, style(None)))
                continue
            colour = self._look(f"meter--{band}")
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
        is_selected: Callable[[Call], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        levels: LevelSource | None = None,
        activity: ActivitySource | None = None,
    ) -> None:
        super().__init__(classes="room")
        self.call = call
        self._is_focused = is_focused
        self._is_selected = is_selected or is_focused
        self.number = number
        self._levels = levels or _live_levels
        self._activity_of = activity or _live_activity
        self._rows = ParticipantRows(clock)
        self._strip = ActivityStrip(clock)
        self._header: tuple[str, str] = ("", "")
        self._look: tuple[bool, AudioMode] | None = None

    def compose(self) -> ComposeResult:
        yield self._strip
        yield self._rows

    def on_mount(self) -> None:
        self.refresh_call()
        self.set_interval(STRIP_TICK_S, self._strip.tick)  # "12 s ago" moves on

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self.call.cid))

    def refresh_call(self) -> None:
        """Title, badges and focus styling (on state changes, not on level updates).

        The focus is read from the engine at each refresh, never remembered, so a pane cannot
        show a focus that has moved on.
        """
        focused = self._is_focused(self.call)
        look = (focused, self.call.state.audio_mode)
        if look != self._look:
            self._look = look
            mode = self.call.state.audio_mode
            self.update_classes(  # one style update for the three (each is a CSS pass)
                {
                    "-focused": focused,
                    "-suspended": mode is AudioMode.SUSPENDED,
                    "-ducked": mode is AudioMode.DUCKED,
                }
            )
            self._rows.restyle()  # the classes' styles apply at once (Textual's update_styles)
        arrow = "▶ " if focused else ("▷ " if self._is_selected(self.call) else "")
        title = f"{arrow}{self.number} {escape(self.call.id)}  [dim]{self.call.type.value}[/]"
        activity = self._activity_of(self.call)
        badges = " ".join(f"[reverse] {b} [/]" for b in badges_for(self.call, focused, activity))
        if (title, badges) != self._header:  # in the border: a repaint, never a layout
            self._header = (title, badges)
            self.border_title = title
            self.border_subtitle = badges or None
        self._strip.show(activity)
        self.refresh_levels()

    def strip_text(self) -> str:
        """The activity strip as plain text."""
        return self._strip.text()

    @property
    def holding_peak(self) -> bool:
        """A peak marker of this pane will fall by itself: the display must look again."""
        return self._rows.holding_peak

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
        local = state.local_participant
        mine = None
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
            mine = Row(label, speaking, level, peak, muted, off=off)
        self._rows.set_rows(rows, mine)
