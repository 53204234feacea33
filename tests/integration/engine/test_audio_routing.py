"""Routing end to end: real server, real aiortc, bots, the memory device.

Rooms A and B each have a bot (440 Hz and 660 Hz). The user's speaker mix must follow the policy,
and the user's microphone (a WAV file with a 1 kHz tone) must reach only the room(s) holding it,
measured at the bots.
"""

from __future__ import annotations

import asyncio

import pytest

from helpers import wait_until
from mctui import (
    AudioConfigurationPolicy,
    CallType,
    Client,
    ClientOptions,
    MultiCallAudioPolicy,
    User,
)
from mctui.audio.backends import MemoryBackend
from mctui.audio.wav_backend import read_wav, write_wav
from mctui.bots.signals import tone
from mctui.server.tokens import issue_token
from spectrum import band_level_db, stereo_band_level_db
from testbed import SECRET

SE = MultiCallAudioPolicy.SUSPEND_EXISTING
MANUAL = MultiCallAudioPolicy.MANUAL
DUCK = MultiCallAudioPolicy.DUCK_EXISTING


async def record(backend: MemoryBackend, seconds: float = 1.0, settle: float = 0.4):
    await asyncio.sleep(settle)  # let queued audio from before the change play out
    backend.clear_output()
    await asyncio.sleep(seconds)
    return backend.output_stereo()  # stereo: rooms heard in the background are panned


@pytest.fixture
async def setup(sfu_server, bots, tmp_path):
    async def build(policy: MultiCallAudioPolicy):
        bot_a = await bots("bot-a", 440, "room-a")
        bot_b = await bots("bot-b", 660, "room-b")
        mic_wav = tmp_path / "mic.wav"
        write_wav(mic_wav, tone(1000, 0.5))
        backend = MemoryBackend(read_wav(mic_wav))
        user = Client(
            sfu_server.url,
            User("user"),
            issue_token(SECRET, "user"),
            ClientOptions(
                multi_call_audio_policy=policy,
                audio_device=backend,
                # the tone stands in for a voice: skip the chain that would suppress it
                audio_configuration_policy=AudioConfigurationPolicy.hifi(),
            ),
        )
        await user.connect()
        a = user.make_call(CallType.DEFAULT, "room-a")
        b = user.make_call(CallType.DEFAULT, "room-b")
        await a.join()
        await b.join()
        for call, bot_id in ((a, "bot-a"), (b, "bot-b")):
            await wait_until(
                call.state,
                "participants",
                lambda ps, bot_id=bot_id: any(p.user.id == bot_id for p in ps),  # type: ignore[misc]
            )
        return user, backend, a, b, bot_a, bot_b

    clients: list[Client] = []

    async def wrapped(policy: MultiCallAudioPolicy):
        result = await build(policy)
        clients.append(result[0])
        return result

    yield wrapped
    for client in clients:
        await client.disconnect()


@pytest.mark.both_sfus
async def test_suspend_existing_routes_speaker_and_mic(setup):
    user, backend, a, b, bot_a, bot_b = await setup(SE)
    mix = await record(backend)
    assert stereo_band_level_db(mix, 660) > -30
    assert stereo_band_level_db(mix, 440) < stereo_band_level_db(mix, 660) - 40
    assert band_level_db(bot_b.heard(), 1000) > -30
    assert band_level_db(bot_a.heard(), 1000) < band_level_db(bot_b.heard(), 1000) - 40

    await user.switch_focus(b, a)
    mix = await record(backend)
    assert stereo_band_level_db(mix, 440) > -30
    assert stereo_band_level_db(mix, 660) < stereo_band_level_db(mix, 440) - 40
    await asyncio.sleep(0.5)
    assert band_level_db(bot_a.heard(), 1000) > -30
    assert band_level_db(bot_b.heard(), 1000) < band_level_db(bot_a.heard(), 1000) - 40


@pytest.mark.both_sfus
async def test_manual_mixes_both_rooms_and_mic_reaches_both(setup):
    user, backend, a, b, bot_a, bot_b = await setup(MANUAL)
    mix = await record(backend)
    assert stereo_band_level_db(mix, 440) > -30 and stereo_band_level_db(mix, 660) > -30
    assert abs(stereo_band_level_db(mix, 440) - stereo_band_level_db(mix, 660)) < 3
    assert band_level_db(bot_a.heard(), 1000) > -30
    assert band_level_db(bot_b.heard(), 1000) > -30


@pytest.mark.both_sfus
async def test_duck_existing_background_is_18_db_down(setup):
    user, backend, a, b, bot_a, bot_b = await setup(DUCK)
    mix = await record(backend)
    focused, ducked = stereo_band_level_db(mix, 660), stereo_band_level_db(mix, 440)
    assert focused > -30
    assert focused - ducked == pytest.approx(18, abs=2)
    assert band_level_db(bot_b.heard(), 1000) > -30
    assert band_level_db(bot_a.heard(), 1000) < band_level_db(bot_b.heard(), 1000) - 40


@pytest.mark.both_sfus
async def test_suspend_incoming_keeps_the_first_room_end_to_end(setup):
    """Suspend-incoming with real media: room A joined first keeps mic and speaker; B joined
    later waits suspended; B's tone is not in the mix and the mic reaches only A's bot."""
    user, backend, a, b, bot_a, bot_b = await setup(MultiCallAudioPolicy.SUSPEND_INCOMING)
    assert b.state.is_audio_suspended and not a.state.is_audio_suspended
    mix = await record(backend)
    assert stereo_band_level_db(mix, 440) > -30
    assert stereo_band_level_db(mix, 660) < stereo_band_level_db(mix, 440) - 40
    assert band_level_db(bot_a.heard(), 1000) > -30
    assert band_level_db(bot_b.heard(), 1000) < band_level_db(bot_a.heard(), 1000) - 40


@pytest.mark.both_sfus
async def test_each_participants_audio_carries_its_own_label(sfu_server, bots, media_client):
    """Two bots in one room, 440 and 660 Hz: each participant's meter follows that bot's own
    microphone, so the SFU cannot have swapped whose audio is whose."""
    low = await bots("low", 440, "duo")
    await bots("high", 660, "duo")
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "duo")
    await call.join()

    def level(user_id: str) -> float:
        return next(p.audio_level for p in call.state.participants if p.user.id == user_id)

    await wait_until(
        call.state, "participants",
        lambda ps: sum(1 for p in ps if not p.is_local and p.audio_level > -30) == 2, timeout=10,
    )  # fmt: skip
    assert user.audio is not None
    await low.call.set_microphone_enabled(False)  # only "low" goes quiet
    await wait_until(
        call.state, "participants", lambda ps: level("low") < -60 and level("high") > -30,
        timeout=5,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # and it stays so: low's meter never shows high's audio
    assert level("low") < -60
