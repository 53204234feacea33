"""Audio configurations that differ for real: stereo for viewer (playout) and hifi (both ways)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from conftest import SECRET
from helpers import wait_heard
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.backends import MemoryBackend
from mctui.audio.session import AudioSession
from mctui.bots import Bot
from mctui.bots.signals import tone
from mctui.server.tokens import issue_token
from spectrum import band_level_db


def stereo_signal() -> np.ndarray:
    return np.stack([tone(440, 0.5), tone(660, 0.5)], axis=1)  # 440 left, 660 right


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


@pytest.mark.parametrize(
    ("config", "stereo"),
    [
        (AudioConfigurationPolicy.hifi(), True),
        (AudioConfigurationPolicy.viewer(), True),
        (AudioConfigurationPolicy.broadcaster(), False),
    ],
)
@pytest.mark.both_sfus
async def test_stereo_image_survives_webrtc_and_the_sfu(sfu_server, config, stereo):
    bot = Bot(sfu_server.url, User("band"), issue_token(SECRET, "band"), stereo_signal(),
              room="concert")  # fmt: skip
    await bot.start()
    backend = MemoryBackend()
    options = ClientOptions(audio_device=backend, audio_configuration_policy=config)
    user = Client(sfu_server.url, User("fan"), issue_token(SECRET, "fan"), options)
    await user.connect()
    try:
        call = user.make_call(CallType.DEFAULT, "concert")
        await call.join()
        await wait_heard(call, "band")
        await asyncio.sleep(1.0)
        heard = backend.output_stereo(1.0)
        left, right = heard[:, 0], heard[:, 1]
        if stereo:
            assert band_level_db(left, 440) > band_level_db(left, 660) + 20
            assert band_level_db(right, 660) > band_level_db(right, 440) + 20
        else:
            assert np.allclose(left, right)  # broadcaster playout is mono
            assert band_level_db(left, 440) > -30 and band_level_db(left, 660) > -30
    finally:
        await user.disconnect()
        await bot.stop()
