"""The level meter widget's drawing."""

from __future__ import annotations

from mctui.tui.widgets.meter import render_meter


def test_meter_is_drawn_in_a_few_runs_not_one_segment_per_cell():
    text = render_meter(60, -12.0, -6.0, muted=False)
    assert text.cell_len == 60
    assert len(text.spans) <= 6
    hollow = render_meter(60, -12.0, None, muted=True)
    assert "░" in hollow.plain and len(hollow.spans) <= 6
