"""Audio configurations that differ for real: stereo for viewer (playout) and hifi (both ways)."""

from __future__ import annotations

import numpy as np

from helpers import stereo_signal
from mctui import AudioConfigurationPolicy
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.backends import MemoryBackend
from mctui.audio.session import AudioSession


def test_session_plays_a_mono_call_on_both_channels_and_a_stereo_call_as_is():
    session = AudioSession(MemoryBackend())
    mono = session.create_adm("mono", AudioConfigurationPolicy.broadcaster())
    wide = session.create_adm("wide", AudioConfigurationPolicy.hifi())
    for adm in (mono, wide):
        adm.hold_speaker()
        adm.add_remote("x")
    left_only = np.zeros((960, 2), dtype=np.float32)
    left_only[:, 0] = 0.25
    mono.push_remote("x", left_only)  # a broadcaster call plays it mono: L = R = 0.125
    mix = session.process(np.zeros(960, dtype=np.float32))
    assert mix.shape == (960, 2) and np.allclose(mix, 0.125)
    wide.push_remote("x", left_only)  # a hifi call keeps the image
    mix = session.process(np.zeros(960, dtype=np.float32))
    assert np.allclose(mix[:, 0], 0.25) and np.allclose(mix[:, 1], 0.0)


def test_capture_channels_follow_the_configuration():
    captured: dict[str, list[np.ndarray]] = {"hifi": [], "viewer": []}
    for name, config in (("hifi", AudioConfigurationPolicy.hifi()),
                         ("viewer", AudioConfigurationPolicy.viewer())):  # fmt: skip
        adm = AudioDeviceModule(name, config, lambda adm: None)
        adm.set_capture_sink(captured[name].append)
        adm.hold_microphone()
        adm.set_capture_enabled(True)
        adm.push_capture(stereo_signal()[:960])
    assert captured["hifi"][0].shape == (960, 2)  # stereo both ways
    assert captured["viewer"][0].shape == (960,)  # a viewer talks in mono
