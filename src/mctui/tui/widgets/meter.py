"""A horizontal level meter: -60..0 dBFS in eighth blocks, green/yellow/red, peak hold.

A meter is drawn as a few *runs* (cells of one band and one look) that depend only on what is
visible: the width, the filled eighths, the peak cell and whether it is muted. ``meter_runs``
caches them by that key, so 32 meters moving at 20 Hz cost a dictionary look-up each once they
have been seen; the widget turns runs into segments with styles resolved once per theme. The
peak-hold decay uses an injectable clock so snapshots can freeze it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from rich.text import Text

MIN_DB = -60.0
MAX_DB = 0.0
YELLOW_DB = -18.0
RED_DB = -6.0
PEAK_HOLD_S = 1.5
EIGHTHS = " ▏▎▍▌▋▊▉█"

#: The colour band of a cell (low: green, mid: yellow, high: red), or None: a blank cell.
Band = Literal["low", "mid", "high"]
#: How a run is drawn on top of its band: plain, dim (muted) or bold (the peak marker).
Look = Literal["", "dim", "bold"]
Run = tuple[str, Band | None, Look]


def band_of(db: float) -> Band:
    if db >= RED_DB:
        return "high"
    if db >= YELLOW_DB:
        return "mid"
    return "low"


def meter_cells(width: int, level_db: float, peak_db: float | None) -> tuple[int, int | None]:
    """What a meter of ``width`` cells shows: filled eighths, and the peak marker's cell."""
    width = max(1, width)
    span = MAX_DB - MIN_DB
    fraction = min(max((level_db - MIN_DB) / span, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    peak_cell = None
    if peak_db is not None and peak_db > MIN_DB:
        peak_cell = min(width - 1, int((min(peak_db, MAX_DB) - MIN_DB) / span * width))
    return eighths, peak_cell


@lru_cache(maxsize=8192)
def meter_runs(width: int, eighths: int, peak_cell: int | None, muted: bool) -> tuple[Run, ...]:
    """The bar as runs of one band and look (a handful per meter, never one per cell)."""
    width = max(1, width)
    span = MAX_DB - MIN_DB
    runs: list[Run] = []
    chars: list[str] = []
    current: tuple[Band | None, Look] = (None, "")
    for cell in range(width):
        band: Band | None = band_of(MIN_DB + (cell + 1) / width * span)
        filled = min(max(eighths - cell * 8, 0), 8)
        look: Look = ""
        if muted:
            char, look = ("░" if filled else " "), "dim"
        else:
            char = EIGHTHS[filled]
        if cell == peak_cell and filled < 8:
            char, look = "▕", "bold"
        if char == " ":
            band, look = None, ""  # blank cells share one unstyled run
        if (band, look) != current and chars:
            runs.append(("".join(chars), *current))
            chars = []
        current = (band, look)
        chars.append(char)
    if chars:
        runs.append(("".join(chars), *current))
    return tuple(runs)


#: The default colours of the bands (the widget's component classes can change them).
BAND_COLOURS: dict[Band, str] = {"low": "green", "mid": "yellow", "high": "red"}


def render_meter(width: int, level_db: float, peak_db: float | None, muted: bool) -> Text:
    """The bar as rich Text in the default colours (for plain-text uses and tests)."""
    width = max(1, width)
    text = Text()
    for chars, band, look in meter_runs(width, *meter_cells(width, level_db, peak_db), muted):
        style = f"{look} {BAND_COLOURS[band]}".strip() if band is not None else None
        text.append(chars, style=style)
    return text


class PeakHold:
    """The peak-hold marker of one meter: the loudest recent level, kept ~1.5 s."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.peak = MIN_DB - 1
        self.level = MIN_DB - 1
        self._at = 0.0

    def update(self, level_db: float, peak_db: float | None = None) -> float:
        now = self._clock()
        self.level = level_db
        loudest = max(level_db, peak_db if peak_db is not None else level_db)
        if loudest >= self.peak or now - self._at > PEAK_HOLD_S:
            self.peak, self._at = loudest, now
        return self.peak

    @property
    def holding(self) -> bool:
        """The marker stands above the level and will fall when its hold ends: whoever draws
        it must look again, even if the level does not move."""
        return self.peak > self.level
