"""A picture in the terminal with two pixels per cell: the upper half block (▀) in the top
pixel's colour over the bottom pixel's, in truecolor. Every terminal draws it; the kitty and
sixel protocols can come later for the terminals that speak them (issue 32).

``half_block_strips`` scales a frame to the cells (nearest pixel), and merges each line's runs of
equal cells into one segment; styles are cached by colour pair, so a steady picture (a test
pattern, a still speaker) costs a dictionary look-up per run."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"
Rgb = npt.NDArray[np.uint8]


@lru_cache(maxsize=65_536)
def _pair_style(top: int, bottom: int) -> Style:
    """The style of a cell whose top pixel is ``top`` and bottom pixel ``bottom`` (0xRRGGBB)."""
    return Style(
        color=Color.from_rgb(top >> 16, top >> 8 & 255, top & 255),
        bgcolor=Color.from_rgb(bottom >> 16, bottom >> 8 & 255, bottom & 255),
    )


def _packed(pixels: Rgb) -> npt.NDArray[np.uint32]:
    wide = pixels.astype(np.uint32)
    shifted = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    return np.asarray(shifted, dtype=np.uint32)


def half_block_strips(frame: Rgb, columns: int, rows: int) -> list[Strip]:
    """``frame`` (``(h, w, 3)`` RGB) drawn in ``columns`` by ``rows`` cells."""
    if columns <= 0 or rows <= 0:
        return []
    height, width = frame.shape[:2]
    ys = np.arange(rows * 2) * height // (rows * 2)
    xs = np.arange(columns) * width // columns
    small = frame[ys][:, xs]
    tops, bottoms = _packed(small[0::2]), _packed(small[1::2])
    strips = []
    for top_row, bottom_row in zip(tops.tolist(), bottoms.tolist(), strict=True):
        segments = []
        run_start = 0
        for x in range(1, columns + 1):
            if (
                x == columns
                or top_row[x] != top_row[run_start]
                or (bottom_row[x] != bottom_row[run_start])
            ):
                style = _pair_style(top_row[run_start], bottom_row[run_start])
                segments.append(Segment(UPPER_HALF * (x - run_start), style))
                run_start = x
        strips.append(Strip(segments, columns))
    return strips


class VideoView(Widget):
    """Shows the last frame it was given, scaled to its size (a repaint per frame, no layout)."""

    DEFAULT_CSS = "VideoView { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__()
        self._frame: Rgb | None = None
        self._strips: list[Strip] = []
        self._drawn_for: tuple[int, int] = (0, 0)

    def show(self, frame: Rgb) -> None:
        self._frame = frame
        self._strips = []
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        if self._frame is None:
            return Strip.blank(width)
        if not self._strips or self._drawn_for != (width, height):
            self._strips = half_block_strips(self._frame, width, height)
            self._drawn_for = (width, height)
        return self._strips[y] if y < len(self._strips) else Strip.blank(width)
