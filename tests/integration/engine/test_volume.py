"""A room's volume in a real call, measured on the speaker mix: 3 dB steps, silence at the
bottom, applied before the policy's ducking, and kept per room for the next run. (To a tenth
of a dB on the session's own output: ``tests/unit/audio/test_room_volume.py``; here the
network's concealment under load moves a second's level by up to 1.5 dB, so the level is the
median of 100 ms windows, within 0.5 dB.)"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from helpers import wait_heard
from mctui import CallType, ClientOptions, MultiCallAudioPolicy
from mctui.audio.backends import MemoryBackend
from mctui.engine.volumes import RoomVolumes, snap, step
from spectrum import stereo_band_level_db


async def tone_level(device: MemoryBackend, hz: float) -> float:
    """The tone's level in the next second of the mix: the median of its ten 100 ms windows
    (a concealed frame moves one window, not the figure)."""
    await asyncio.sleep(0.3)  # what was mixed before the change has left the window
    device.clear_output()
    await asyncio.sleep(1.05)
    mix = device.output_stereo(1.0)  # a ducked room is panned: its level is its power
    return float(
        np.median([stereo_band_level_db(mix[i * 4800 : (i + 1) * 4800], hz) for i in range(10)])
    )


@pytest.mark.slow
async def test_volume_steps_scale_the_room_in_the_mix_before_ducking(media_client, tmp_path):  # type: ignore[no-untyped-def]
    volumes = tmp_path / "volumes.json"
    talker = await media_client("talker", 440)
    other = await media_client("other", 700)
    listener = await media_client(
        "listener", policy=MultiCallAudioPolicy.DUCK_EXISTING, volumes_file=str(volumes)
    )
    device: MemoryBackend = listener.options.audio_device  # type: ignore[assignment]
    await talker.make_call(CallType.DEFAULT, "loud").join()
    await other.make_call(CallType.DEFAULT, "next").join()
    loud = listener.make_call(CallType.DEFAULT, "loud")
    await loud.join()
    await wait_heard(loud, "talker", played=True)
    await asyncio.sleep(1.0)  # past the jitter buffer's start
    unity = await tone_level(device, 440)
    assert await loud.set_volume_db(-7.0) == -6.0  # snapped to the 3 dB step
    assert loud.state.volume_db == -6.0
    assert await tone_level(device, 440) - unity == pytest.approx(-6.0, abs=0.5)
    await loud.set_volume_db(3.0)
    assert await tone_level(device, 440) - unity == pytest.approx(3.0, abs=0.5)
    # a second room takes the focus: "loud" ducks by 18 dB on top of its own +3
    nxt = listener.make_call(CallType.DEFAULT, "next")
    await nxt.join()
    await wait_heard(nxt, "other", played=True)
    assert await tone_level(device, 440) - unity == pytest.approx(3.0 - 18.0, abs=0.5)
    await loud.set_volume_db(step(step(-30.0, -1), 0))  # below the lowest step: silent
    assert await tone_level(device, 440) < unity - 60
    assert await tone_level(device, 700) > unity - 3  # the focused room is untouched
    # kept for the room, by name, for the next run
    assert RoomVolumes(volumes).get(loud.cid) == loud.state.volume_db < -59
    assert RoomVolumes(volumes).get(nxt.cid) == 0.0


def test_steps_snap_and_stop_at_the_ends(tmp_path):
    assert [snap(v) for v in (-1.4, -1.6, 14.0, -31.0, -33.0)] == [0.0, -3.0, 12.0, -30.0, -60.0]
    assert step(12.0, 1) == 12.0 and step(-30.0, -1) == -60.0 and step(-60.0, 1) == -30.0
    broken = tmp_path / "volumes.json"
    broken.write_text("{not json")
    assert RoomVolumes(broken).get("default:x") == 0.0  # a damaged file loses nothing else
    ClientOptions(volumes_file=str(broken))  # an option like any other
