"""The half-block picture: the test pattern's bars come out in order, two pixels a cell, and its
frame counter survives the trip; a steady picture reuses its styles."""

from __future__ import annotations

from mctui.tui.widgets.video_view import _pair_style, half_block_strips
from mctui.video.pattern import BARS, pattern_frame, read_counter


def colours(strip) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Each cell's top colour, left to right."""
    out = []
    for segment in strip:
        triplet = segment.style.color.triplet  # type: ignore[union-attr]
        out += [(triplet.red, triplet.green, triplet.blue)] * len(segment.text)  # type: ignore[union-attr]
    return out


def test_the_bars_arrive_in_order_two_pixels_a_cell() -> None:
    strips = half_block_strips(pattern_frame(0), 80, 45)
    assert len(strips) == 45 and all(s.cell_length == 80 for s in strips)
    middle = colours(strips[20])
    assert [middle[10 * bar + 5] for bar in range(8)] == list(BARS)
    assert all(seg.text == "▀" * len(seg.text) for seg in strips[20])
    assert len(list(strips[20])) == 8  # one segment per bar: runs are merged


def test_the_counter_reads_back_from_the_cells() -> None:
    """A receiver (and the video tests to come) read the frame number from the drawn cells."""
    import numpy as np

    strips = half_block_strips(pattern_frame(4660, 640, 360), 80, 45)
    picture = np.zeros((90, 80, 3), dtype=np.uint8)
    for row, strip in enumerate(strips):
        x = 0
        for segment in strip:
            top = segment.style.color.triplet  # type: ignore[union-attr]
            bottom = segment.style.bgcolor.triplet  # type: ignore[union-attr]
            for _ in segment.text:
                picture[2 * row, x] = (top.red, top.green, top.blue)  # type: ignore[union-attr]
                picture[2 * row + 1, x] = (bottom.red, bottom.green, bottom.blue)  # type: ignore[union-attr]
                x += 1
    assert read_counter(picture) == 4660


def test_a_steady_picture_costs_lookups_not_styles() -> None:
    _pair_style.cache_clear()
    for index in range(30):
        half_block_strips(pattern_frame(index), 80, 45)
    info = _pair_style.cache_info()
    assert info.misses < 40 and info.hits > 10 * info.misses
