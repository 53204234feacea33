"""Each speed fix behind a test (the figures themselves live in benchmarks/)."""

from __future__ import annotations

import numpy as np

from mctui.audio.adm import STANDBY_FRAMES, AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.bots.signals import tone
from mctui.rtc.peer import new_peer_connection, set_loopback_only, tune_audio_receivers
from mctui.rtc.tracks import RelayTrack
from mctui.tui.widgets.meter import render_meter


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


async def test_audio_receivers_look_ahead_one_frame_on_loopback():
    pc = new_peer_connection()
    try:
        pc.addTransceiver("audio", direction="recvonly")
        tune_audio_receivers(pc)
        buffer = pc.getTransceivers()[0].receiver._RTCRtpReceiver__jitter_buffer
        assert buffer._prefetch == 1
        set_loopback_only(False)
        pc.addTransceiver("audio", direction="recvonly")
        tune_audio_receivers(pc)
        assert pc.getTransceivers()[1].receiver._RTCRtpReceiver__jitter_buffer._prefetch == 2
    finally:
        set_loopback_only(True)
        await pc.close()


async def test_sfu_relay_slots_carry_encoded_packets_with_their_own_timeline():
    import av

    relay = RelayTrack()
    relay.push(b"\x01\x02")
    relay.push(b"\x03")
    first, second = await relay.recv(), await relay.recv()
    assert isinstance(first, av.Packet) and bytes(first) == b"\x01\x02"
    assert (first.pts, second.pts) == (0, 960)  # the sender only packs: no re-encode
    relay.stop()


def test_meter_is_drawn_in_a_few_runs_not_one_segment_per_cell():
    text = render_meter(60, -12.0, -6.0, muted=False)
    assert text.cell_len == 60
    assert len(text.spans) <= 6
    hollow = render_meter(60, -12.0, None, muted=True)
    assert "░" in hollow.plain and len(hollow.spans) <= 6


def test_fast_audio_level_matches_aiortc_and_is_installed():
    import time

    import aiortc.rtp

    from mctui.rtc import peer
    from mctui.rtc.frames import to_av_frame

    assert aiortc.rtp.compute_audio_level_dbov is peer.audio_level_dbov
    original = peer.ORIGINAL_AUDIO_LEVEL_DBOV  # aiortc's pure-Python one
    rng = np.random.default_rng(1)
    for amplitude in (0.0, 0.001, 0.05, 0.5, 1.0):
        frame = to_av_frame((amplitude * rng.uniform(-1, 1, 960)).astype(np.float32), 0)
        assert peer.audio_level_dbov(frame) == original(frame)
    frame = to_av_frame(tone(440, 0.3)[:960], 0)
    start = time.perf_counter()
    for _ in range(200):
        original(frame)
    slow = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(200):
        peer.audio_level_dbov(frame)
    fast = time.perf_counter() - start
    assert fast < slow / 3
