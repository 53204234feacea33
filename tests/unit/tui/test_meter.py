"""The level meter widget's drawing."""

from __future__ import annotations

from mctui.tui.widgets.meter import render_meter


def test_meter_is_drawn_in_a_few_runs_not_one_segment_per_cell():
    text = render_meter(60, -12.0, -6.0, muted=False)
    assert text.cell_len == 60
    assert len(text.spans) <= 6
    hollow = render_meter(60, -12.0, None, muted=True)
    assert "░" in hollow.plain and len(hollow.spans) <= 6


def test_meter_runs_are_cached_by_what_is_visible():
    from mctui.tui.widgets.meter import meter_cells, meter_runs

    first = meter_runs(40, *meter_cells(40, -20.0, -10.0), False)
    # a level 0.01 dB away draws the same eighths: the very same runs, from the cache
    assert meter_runs(40, *meter_cells(40, -20.01, -10.0), False) is first
    assert "".join(chars for chars, _, _ in first).count("▕") == 1


def test_a_peak_marker_above_the_level_is_held_then_falls():
    from mctui.tui.widgets.meter import PEAK_HOLD_S, PeakHold

    now = [0.0]
    hold = PeakHold(lambda: now[0])
    hold.update(-10.0)
    hold.update(-30.0)
    assert hold.peak == -10.0 and hold.holding  # the display must look again: it will fall
    now[0] = PEAK_HOLD_S + 0.1
    hold.update(-30.0)
    assert hold.peak == -30.0 and not hold.holding
