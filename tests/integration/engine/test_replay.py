"""Instant replay with real media on both SFUs: what a bot said in a room the user had
suspended comes back through the speaker, its envelope matching the bot's own signal, while the
live rooms duck by 18 dB; the history is bounded and says how much it holds."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest

from helpers import wait_until
from mctui import CallType, MultiCallAudioPolicy
from mctui.audio.backends import MemoryBackend
from mctui.bots import Bot
from mctui.bots.signals import speech_like
from mctui.client_media.history import KEEP_S, MAX_BYTES
from mctui.engine.types import User
from mctui.errors import InvalidStateError
from mctui.server.tokens import issue_token
from spectrum import band_level_db
from testbed import SECRET

SPEECH_S = 6.0
REPLAY_S = 8.0
FRAME = 960


def envelope(signal: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """RMS per 20 ms frame (mono)."""
    mono = signal if signal.ndim == 1 else signal.mean(axis=1)
    frames = mono[: mono.size // FRAME * FRAME].reshape(-1, FRAME).astype(np.float64)
    return np.sqrt((frames**2).mean(axis=1))


def best_correlation(heard: npt.NDArray[np.float64], source: npt.NDArray[np.float64]) -> float:
    """The highest correlation of ``heard`` with any stretch of the looped ``source``."""
    looped = np.tile(source, int(np.ceil(heard.size / source.size)) + 2)
    best = -1.0
    for lag in range(source.size):
        window = looped[lag : lag + heard.size]
        best = max(best, float(np.corrcoef(heard, window)[0, 1]))
    return best


@pytest.mark.slow
@pytest.mark.both_sfus
async def test_what_was_said_while_suspended_comes_back(sfu_server, media_client) -> None:  # type: ignore[no-untyped-def]
    speech = speech_like(SPEECH_S, seed=3)
    bot = Bot(sfu_server.url, User("speaker", "Speaker"), issue_token(SECRET, "speaker"),
              speech, room="missed")  # fmt: skip
    await bot.start()
    try:
        await bots_and_user(bot, speech, media_client)
    finally:
        await bot.stop()


async def bots_and_user(bot: Bot, speech: npt.NDArray[np.float32], media_client) -> None:  # type: ignore[no-untyped-def]
    live = await media_client("live", 700)
    await live.make_call(CallType.DEFAULT, "here").join()
    user = await media_client("user", policy=MultiCallAudioPolicy.SUSPEND_EXISTING)
    device: MemoryBackend = user.options.audio_device  # type: ignore[assignment]
    missed = user.make_call(CallType.DEFAULT, "missed")
    await missed.join()
    here = user.make_call(CallType.DEFAULT, "here")
    await here.join()  # "missed" goes to the background, suspended: nothing of it is played
    assert missed.state.is_audio_suspended
    await wait_until(missed.state, "activity", lambda a: a.unheard, 10)
    await asyncio.sleep(REPLAY_S + 0.5)  # the bot goes on talking, unheard
    history = missed._media.history
    assert 0 < history.bytes_held < MAX_BYTES and history.seconds_held <= KEEP_S + 1

    device.clear_output()
    await asyncio.sleep(1.0)
    live_alone = band_level_db(device.output(1.0), 700)

    await missed.replay(seconds=REPLAY_S)
    assert missed.state.replaying is not None and not missed.state.activity.unheard
    device.clear_output()
    await wait_until(missed.state, "replaying", lambda r: r is None, REPLAY_S + 5)
    played = device.output(REPLAY_S + 1.0)
    # the replay is the bot's speech: its envelope follows the bot's own signal
    heard = envelope(played)
    voiced = heard[heard.size - int(REPLAY_S * 50) :]
    correlation = best_correlation(voiced[:-25], envelope(speech))
    assert correlation >= 0.9, correlation
    # the live room ducked by 18 dB under it, and came back after
    ducked = band_level_db(played[: int(REPLAY_S * 48_000) - 48_000], 700)
    assert live_alone - ducked == pytest.approx(18.0, abs=2.0)
    device.clear_output()
    await asyncio.sleep(1.0)
    assert band_level_db(device.output(1.0), 700) == pytest.approx(live_alone, abs=1.5)


async def test_a_replay_needs_a_joined_room_and_a_sane_length(media_client) -> None:  # type: ignore[no-untyped-def]
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "nowhere")
    with pytest.raises(InvalidStateError, match="join"):
        await call.replay()
    await call.join()
    with pytest.raises(ValueError, match="1 to 60 seconds"):
        await call.replay(seconds=600)
    await call.replay(seconds=2)  # an empty room replays silence, and ends by itself
    await wait_until(call.state, "replaying", lambda r: r is None, 5)
