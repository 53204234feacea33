"""Level meters: RMS/peak dBFS per 20 ms frame, vectorised across streams; speaking hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from mctui.audio.levels import FLOOR_DBFS, SpeakingDetector, peak_dbfs, rms_dbfs
from mctui.bots.signals import tone


@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.1, 0.01, 0.001])
def test_sine_rms_reads_amplitude_over_root_two(amplitude):
    """1 kHz fits 20 whole periods in a 20 ms frame and peaks on a sample: both are exact."""
    frame = tone(1000, amplitude)[:960]
    expected = 20 * np.log10(amplitude / np.sqrt(2))
    assert rms_dbfs(frame)[0] == pytest.approx(expected, abs=0.01)
    assert peak_dbfs(frame)[0] == pytest.approx(20 * np.log10(amplitude), abs=0.01)


@pytest.mark.parametrize(("level", "cells"), [(-60, 0), (-45, 15), (-30, 30), (-6, 54), (0, 60)])
def test_meter_scale_is_linear_in_db_from_minus_60_to_0(level, cells):
    from mctui.tui.widgets.meter import render_meter

    text = render_meter(60, level, None, muted=False).plain
    assert sum(1 for ch in text if ch == "█") == cells  # whole cells; the 61st dB would overflow
    assert len(text) == 60


def test_silence_reads_the_floor():
    silence = np.zeros(960, dtype=np.float32)
    assert rms_dbfs(silence)[0] == FLOOR_DBFS
    assert peak_dbfs(silence)[0] == FLOOR_DBFS


def test_levels_are_vectorised_across_streams():
    frames = np.stack([tone(440, a)[:960] for a in (0.5, 0.05)] + [np.zeros(960, np.float32)])
    levels = rms_dbfs(frames)
    assert levels.shape == (3,)
    assert levels[0] == pytest.approx(-9.03, abs=0.05)
    assert levels[1] == pytest.approx(-29.03, abs=0.05)
    assert levels[2] == FLOOR_DBFS


def test_speaking_detector_has_hysteresis():
    detector = SpeakingDetector()
    assert not detector.update(-20)  # one loud frame is not speech yet
    assert detector.update(-20)
    for _ in range(detector.release - 1):
        assert detector.update(-70)  # short pauses between words keep it on
    assert not detector.update(-70)
    assert not detector.update(-50)  # between the thresholds: no change
