"""Recording a room in a real call: the Ogg/Opus file decodes, lasts as long as the recording
ran, holds the room (a bot's 440 Hz) on the left and the user's mic (1 kHz) on the right; a full
disk is an error the client reports while the call goes on."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest

from helpers import wait_heard, wait_until
from mctui import CallType
from spectrum import band_level_db


def decode(path: Path) -> np.ndarray:
    """The file's audio as (samples, channels) float32."""
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    planar = np.concatenate(chunks, axis=1)  # (channels, samples), fltp
    return planar.T.astype(np.float32)


async def test_a_recording_holds_the_room_left_and_the_mic_right(media_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot = await media_client("bot", 440)
    await bot.make_call(CallType.DEFAULT, "desk").join()
    user = await media_client("user", 1000, record_dir=str(tmp_path))
    call = user.make_call(CallType.DEFAULT, "desk")
    await call.join()
    await wait_heard(call, "bot", played=True)
    path = await call.start_recording()
    started = time.monotonic()
    assert path.parent == tmp_path and path.name.startswith("default-desk-")
    assert call.state.recording == str(path)
    await asyncio.sleep(3.0)
    await call.stop_recording()
    ran = time.monotonic() - started
    assert call.state.recording is None

    audio = decode(path)
    assert audio.shape[1] == 2
    assert audio.shape[0] / 48_000 == pytest.approx(ran, abs=0.4)
    room, mic = audio[48_000:, 0], audio[48_000:, 1]  # past the first second
    assert band_level_db(room, 440) > -30 and band_level_db(room, 1000) < -60
    assert band_level_db(mic, 1000) > -30 and band_level_db(mic, 440) < -60


async def test_a_full_disk_stops_the_recording_not_the_call(media_client) -> None:  # type: ignore[no-untyped-def]
    bot = await media_client("bot", 440)
    await bot.make_call(CallType.DEFAULT, "full").join()
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "full")
    await call.join()
    await call.start_recording(Path("/dev/full"))  # every write: ENOSPC
    await wait_until(user.state, "audio_error", lambda e: e is not None and "/dev/full" in e, 10)
    await wait_until(call.state, "recording", lambda r: r is None, 5)
    assert call.state.connection.value == "joined"
    await wait_heard(call, "bot", played=True)  # the call goes on


async def test_leaving_finishes_the_file(media_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bot = await media_client("bot", 440)
    await bot.make_call(CallType.DEFAULT, "brief").join()
    user = await media_client("user", 1000)
    call = user.make_call(CallType.DEFAULT, "brief")
    await call.join()
    await wait_heard(call, "bot", played=True)
    path = await call.start_recording(tmp_path / "brief.ogg")
    await asyncio.sleep(1.5)
    await call.leave()
    assert call.state.recording is None
    deadline = time.monotonic() + 5
    while True:  # the writer finishes by itself: the file then decodes to its end
        try:
            audio = await asyncio.to_thread(decode, path)
            break
        except (av.FFmpegError, ValueError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    assert 1.0 < audio.shape[0] / 48_000 < 2.5
    assert band_level_db(audio[24_000:, 0], 440) > -30
