"""The shared audio session's mixer: each call's playout at its hold gain (unit level)."""

from __future__ import annotations

import numpy as np
import pytest

from mctui.audio.backends import NullBackend
from mctui.audio.config import AudioConfigurationPolicy
from mctui.audio.levels import rms_dbfs
from mctui.audio.session import AudioSession
from mctui.bots.signals import tone


@pytest.mark.parametrize("gain_db", [0.0, -6.0, -18.0, -30.0])
def test_a_held_speaker_plays_at_its_gain(gain_db):
    session = AudioSession(NullBackend())
    adm = session.create_adm("call", AudioConfigurationPolicy.broadcaster())
    frame = tone(1000, 0.5)[:960]
    adm.push_remote("bob", frame)
    adm.hold_speaker(gain_db)
    mix = session.process(np.zeros(960, dtype=np.float32))
    expected = rms_dbfs(frame)[0] + gain_db
    assert rms_dbfs(mix[:, 0])[0] == pytest.approx(expected, abs=0.01)
    assert np.allclose(mix[:, 0], mix[:, 1])  # mono calls play L = R


def test_two_calls_mix_and_a_released_speaker_is_silent():
    session = AudioSession(NullBackend())
    loud = session.create_adm("a", AudioConfigurationPolicy.broadcaster())
    quiet = session.create_adm("b", AudioConfigurationPolicy.broadcaster())
    loud.push_remote("x", tone(1000, 0.5)[:960])
    quiet.push_remote("y", tone(1000, 0.5)[:960])
    loud.hold_speaker(0.0)
    quiet.hold_speaker(-18.0)
    both = session.process(np.zeros(960, dtype=np.float32))
    amplitude = 0.5 * (1 + 10 ** (-18 / 20))  # same phase: amplitudes add
    assert np.max(np.abs(both[:, 0])) == pytest.approx(amplitude, rel=1e-3)
    loud.push_remote("x", tone(1000, 0.5)[:960])
    loud.release_speaker()
    quiet.release_speaker()
    assert not np.any(session.process(np.zeros(960, dtype=np.float32)))
