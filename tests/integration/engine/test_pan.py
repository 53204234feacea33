"""Rooms placed in the stereo mix, in real calls: each room's tone reaches the left and right
channels with the level difference its place gives (constant-power law), the focused room in the
centre and the background rooms spread in pane order; a room the user placed stays there; a mono
output device gets no pan."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from helpers import wait_heard, wait_until
from mctui import CallType, MultiCallAudioPolicy
from mctui.audio.backends import MemoryBackend
from spectrum import band_level_db

#: Left minus right for a room at each place, by the constant-power law (L = cos, R = sin of
#: (p + 1) * 45°): 20 log10(cot 9°) and 20 log10(cot 18°). Worked out by hand, not by the code.
HARD_DB = {-0.8: 16.01, -0.6: 9.76, 0.0: 0.0, 0.8: -16.01}


async def balance_db(device: MemoryBackend, hz: float) -> float:
    """Left minus right (dB) of the tone at ``hz`` over the next second: the median of ten
    100 ms windows (a concealed frame moves one window, not the figure)."""
    await asyncio.sleep(0.3)  # what was mixed before the change has left the window
    device.clear_output()
    await asyncio.sleep(1.05)
    mix = device.output_stereo(1.0)
    windows = [mix[i * 4800 : (i + 1) * 4800] for i in range(10)]
    return float(
        np.median([band_level_db(w[:, 0], hz) - band_level_db(w[:, 1], hz) for w in windows])
    )


def test_the_law_by_hand() -> None:
    """The figures above, checked against the law's definition (not mctui's code)."""
    for pan, expected in HARD_DB.items():
        angle = (pan + 1) * math.pi / 4
        assert 20 * math.log10(math.cos(angle) / math.sin(angle)) == pytest.approx(
            expected, abs=0.01
        )


@pytest.mark.slow
async def test_rooms_sit_where_their_pan_puts_them(media_client) -> None:  # type: ignore[no-untyped-def]
    for user, hz, room in (("a", 440, "left"), ("b", 700, "mid"), ("c", 1000, "right")):
        talker = await media_client(user, hz)
        await talker.make_call(CallType.DEFAULT, room).join()
    listener = await media_client("listener", policy=MultiCallAudioPolicy.DUCK_EXISTING)
    device: MemoryBackend = listener.options.audio_device  # type: ignore[assignment]
    calls = {}
    for user, room in (("a", "left"), ("b", "mid"), ("c", "right")):
        calls[room] = listener.make_call(CallType.DEFAULT, room)
        await calls[room].join()
        await wait_heard(calls[room], user, played=True)
    await asyncio.sleep(1.0)  # past the jitter buffers' start
    # "right" joined last and holds the focus: centre; the two in the background spread
    assert [calls[r].state.pan for r in ("left", "mid", "right")] == [-0.8, 0.8, 0.0]
    assert await balance_db(device, 440) == pytest.approx(HARD_DB[-0.8], abs=0.5)
    assert await balance_db(device, 700) == pytest.approx(HARD_DB[0.8], abs=0.5)
    assert await balance_db(device, 1000) == pytest.approx(0.0, abs=0.5)

    # the user places "left"; it stays there even when it takes the focus
    assert await calls["left"].set_pan(-0.6) == -0.6
    assert await balance_db(device, 440) == pytest.approx(HARD_DB[-0.6], abs=0.5)
    await listener.switch_focus(calls["right"], calls["left"])
    await wait_until(calls["right"].state, "pan", lambda pan: pan == 0.8)
    assert calls["mid"].state.pan == -0.8 and calls["left"].state.pan == -0.6
    assert await balance_db(device, 1000) == pytest.approx(HARD_DB[0.8], abs=0.5)
    assert await balance_db(device, 440) == pytest.approx(HARD_DB[-0.6], abs=0.5)
    await calls["left"].set_pan(None)  # back to automatic: the focused room in the centre
    assert calls["left"].state.pan == 0.0

    # a mono output device: nothing is panned (its downmix would only lose level)
    device.output_channels = 1
    assert await balance_db(device, 1000) == pytest.approx(0.0, abs=0.5)
