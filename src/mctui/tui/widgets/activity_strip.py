"""One line at the top of a room's pane: who spoke when over the last two minutes, and who spoke
last ("last: Ann 12 s ago"), from the room's ``call.state.activity`` (the SFU's levels, so a
suspended room has one too).

Each cell covers an equal share of the two minutes, its height the share of those seconds with
speech (eighth blocks); the newest is on the right. One line on the Line API, rendered again
only when its text changes (at most once a second, or every few seconds for the "ago")."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from itertools import groupby
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from mctui.display import fit_cells
from mctui.engine.activity import HISTORY_S, Activity

#: A cell's speech share in eighths; silence is a low dot.
LEVELS = "·▁▂▃▄▅▆▇█"
MIN_CELLS = 8


def ago_text(seconds: float) -> str:
    """``12 s ago``, ``3 min ago``, ``1 h ago``."""
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def strip_cells(seconds: tuple[bool, ...], cells: int) -> str:
    """``seconds`` (oldest first) squeezed into ``cells`` characters."""
    cells = max(1, cells)
    per_cell = len(seconds) / cells
    out = []
    for index in range(cells):
        begin = int(index * per_cell)
        chunk = seconds[begin : max(int((index + 1) * per_cell), begin + 1)]
        share = sum(chunk) / len(chunk) if chunk else 0.0
        out.append(LEVELS[math.ceil(share * 8)] if share > 0 else LEVELS[0])
    return "".join(out)


def strip_line(activity: Activity, width: int, now: float) -> tuple[str, str]:
    """The strip's cells and its "last:" text for ``width`` cells."""
    ago = activity.last_spoke_ago(now)
    last = ""
    if activity.last_speaker is not None and ago is not None:
        speaking = activity.seconds[-1] and ago < 1.5
        last = f" {activity.last_speaker} now" if speaking else (
            f" last: {activity.last_speaker} {ago_text(ago)}"
        )  # fmt: skip
    room = width - MIN_CELLS
    last = fit_cells(last, max(0, room)) if room > 0 else ""
    return strip_cells(activity.seconds, width - len(last)), last


class ActivityStrip(Widget):
    """The room's speech over the last ``HISTORY_S`` seconds, and its last speaker."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"strip--speech", "strip--quiet"}
    DEFAULT_CSS = """
    ActivityStrip { height: 1; }
    ActivityStrip > .strip--speech { color: $success; }
    ActivityStrip > .strip--quiet { color: $text-muted; }
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._activity = Activity()
        self._drawn: tuple[str, str] | None = None

    def show(self, activity: Activity) -> None:
        """New activity (a second rolled, or the unheard mark moved): repaint if it shows."""
        self._activity = activity
        self.tick()

    def tick(self) -> None:
        """The time moved on: repaint when the "ago" text changes."""
        line = strip_line(self._activity, self.size.width or HISTORY_S, self._clock())
        if line != self._drawn:
            self._drawn = line
            self.refresh()

    def text(self) -> str:
        """The strip as plain text (what a screen reader or a test reads)."""
        cells, last = strip_line(self._activity, self.size.width, self._clock())
        return cells + last

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y != 0 or width <= 0:
            return Strip.blank(width, base)
        cells, last = strip_line(self._activity, width, self._clock())
        speech = base + self.get_component_rich_style("strip--speech", partial=True)
        quiet = base + self.get_component_rich_style("strip--quiet", partial=True)
        segments = [
            Segment("".join(run), quiet if is_quiet else speech)
            for is_quiet, run in groupby(cells, key=lambda char: char == LEVELS[0])
        ]
        segments.append(Segment(last, base + Style(italic=True)))
        return Strip(segments).crop_extend(0, width, base)
