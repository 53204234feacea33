"""A stereo image through real WebRTC and the SFU: it survives where the configuration says
stereo."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from helpers import stereo_signal, wait_heard
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.backends import MemoryBackend
from mctui.bots import Bot
from mctui.server.tokens import issue_token
from spectrum import band_level_db
from testbed import SECRET


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
