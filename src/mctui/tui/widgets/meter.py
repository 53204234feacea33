"""A horizontal level meter: -60..0 dBFS in eighth blocks, green/yellow/red, peak hold.

Renders only what it is given (level, peak-hold, muted); the peak-hold decay uses an injectable
clock so snapshots can freeze it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text

MIN_DB = -60.0
MAX_DB = 0.0
YELLOW_DB = -18.0
RED_DB = -6.0
PEAK_HOLD_S = 1.5
EIGHTHS = " ▏▎▍▌▋▊▉█"


def band_style(db: float) -> str:
    if db >= RED_DB:
        return "red"
    if db >= YELLOW_DB:
        return "yellow"
    return "green"


def render_meter(width: int, level_db: float, peak_db: float | None, muted: bool) -> Text:
    """The bar as rich Text: filled eighths up to the level, a marker at the peak.

    Cells of one style are appended as one run (a handful per meter, not one per cell): meters
    are redrawn 20 times a second for every participant, and per-cell segments dominated the
    TUI's CPU.
    """
    width = max(1, width)
    span = MAX_DB - MIN_DB
    fraction = min(max((level_db - MIN_DB) / span, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    peak_cell = None
    if peak_db is not None and peak_db > MIN_DB:
        peak_cell = min(width - 1, int((min(peak_db, MAX_DB) - MIN_DB) / span * width))
    text = Text()
    run_chars: list[str] = []
    run_style = ""
    for cell in range(width):
        cell_db = MIN_DB + (cell + 1) / width * span
        style = band_style(cell_db)
        filled = min(max(eighths - cell * 8, 0), 8)
        if muted:
            char = "░" if filled else " "
            style = f"dim {style}"
        else:
            char = EIGHTHS[filled]
        if cell == peak_cell and filled < 8:
            char, style = "▕", f"bold {band_style(cell_db)}"
        if char == " ":
            style = ""  # blank cells share one unstyled run
        if style != run_style and run_chars:
            text.append("".join(run_chars), style=run_style or None)
            run_chars = []
        run_style = style
        run_chars.append(char)
    if run_chars:
        text.append("".join(run_chars), style=run_style or None)
    return text


class PeakHold:
    """The peak-hold marker of one meter: the loudest recent level, kept ~1.5 s."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.peak = MIN_DB - 1
        self._at = 0.0

    def update(self, level_db: float, peak_db: float | None = None) -> float:
        now = self._clock()
        loudest = max(level_db, peak_db if peak_db is not None else level_db)
        if loudest >= self.peak or now - self._at > PEAK_HOLD_S:
            self.peak, self._at = loudest, now
        return self.peak
