"""The audio device module: what a remote stream plays while its call is suspended, and after."""

from __future__ import annotations

import numpy as np

from mctui.audio.adm import STANDBY_FRAMES, AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.bots.signals import tone


def _adm() -> AudioDeviceModule:
    return AudioDeviceModule("t", AudioConfigurationPolicy.broadcaster(), lambda adm: None)


def test_suspended_remote_keeps_newest_frames_so_resume_plays_at_once():
    adm = _adm()
    adm.add_remote("bob")
    adm.set_remote_enabled("bob", False)
    frames = [np.full(960, i / 100, dtype=np.float32) for i in range(10)]
    for frame in frames:
        adm.push_remote("bob", frame)
    assert len(adm.remotes["bob"].queue) == STANDBY_FRAMES  # bounded while suspended
    adm.set_remote_enabled("bob", True)
    played = adm.pull_playout()
    assert np.allclose(played, frames[-STANDBY_FRAMES])  # fresh audio on the very next frame


def test_disabled_remote_is_not_played():
    adm = _adm()
    adm.add_remote("bob")
    adm.set_remote_enabled("bob", False)
    adm.push_remote("bob", tone(440)[:960])
    assert not np.any(adm.pull_playout())
