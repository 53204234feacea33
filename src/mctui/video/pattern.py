"""The test pattern a ``--camera test`` source sends: eight colour bars that move one bar width
every ``BAR_PERIOD`` frames, and the frame's number in a strip of black and white squares at the
bottom (16 bits, least significant on the left, each 1/32 of the width), so a receiver can read
which frame it got and a test can check the bars' colours in order."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: White, yellow, cyan, green, magenta, red, blue, black: the classic bars.
BARS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
    (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0),
)  # fmt: skip
COUNTER_BITS = 16
#: Frames for the bars to move by one bar.
BAR_PERIOD = 15

Rgb = npt.NDArray[np.uint8]


def pattern_frame(index: int, width: int = 640, height: int = 360) -> Rgb:
    """Frame ``index`` as ``(height, width, 3)`` RGB."""
    bar_width = width // len(BARS)
    shift = (index * bar_width // BAR_PERIOD) % width
    columns = (np.arange(width) + shift) % width // bar_width
    palette = np.array(BARS, dtype=np.uint8)
    frame = np.repeat(palette[np.minimum(columns, len(BARS) - 1)][None, :, :], height, axis=0)
    top = height - max(2, height // 12)
    for bit in range(COUNTER_BITS):
        left, right = _counter_span(bit, width)
        frame[top:, left:right] = 255 if index >> bit & 1 else 0
    return np.ascontiguousarray(frame)


def _counter_span(bit: int, width: int) -> tuple[int, int]:
    """Columns of the counter's square for ``bit``: 1/32 of the width each (half the width in
    all), so the code scales with the picture."""
    return round(bit * width / 32), round((bit + 1) * width / 32)


def read_counter(frame: Rgb) -> int:
    """The frame number a ``pattern_frame`` carries (after scaling or lossy coding: each
    square's centre is read against mid-grey)."""
    height, width = frame.shape[:2]
    y = height - max(1, height // 24) - 1
    value = 0
    for bit in range(COUNTER_BITS):
        left, right = _counter_span(bit, width)
        if frame[y, (left + right) // 2].mean() > 127:
            value |= 1 << bit
    return value
