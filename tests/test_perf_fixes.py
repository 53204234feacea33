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


def test_fast_audio_level_is_the_true_rms_and_is_installed():
    """Ours is the frame's RMS in whole dB; aiortc's reads an L = R stereo frame 3 dB high (it
    divides both channels' energy by one channel's samples). How much faster ours is, is the
    benchmarks' business."""
    import aiortc.rtp

    from mctui.audio.levels import rms_dbfs
    from mctui.rtc import peer
    from mctui.rtc.frames import to_av_frame

    assert aiortc.rtp.compute_audio_level_dbov is peer.audio_level_dbov
    original = peer.ORIGINAL_AUDIO_LEVEL_DBOV  # aiortc's pure-Python one
    rng = np.random.default_rng(1)
    assert peer.audio_level_dbov(to_av_frame(np.zeros(960, np.float32), 0)) == -127
    for amplitude in (0.001, 0.05, 0.5, 1.0):
        mono = (amplitude * rng.uniform(-1, 1, 960)).astype(np.float32)
        frame = to_av_frame(mono, 0)
        pcm = np.round(np.clip(mono, -1, 1) * 32767) / 32767  # what the frame holds
        assert peer.audio_level_dbov(frame) == round(float(rms_dbfs(pcm)[0]))
        assert abs(original(frame) - peer.audio_level_dbov(frame) - 3) <= 1


async def test_the_level_on_the_wire_is_the_sent_frames_level(sfu_server, bots):
    """The effect of the patched level function: the SFU reads, in each RTP header, the RMS of
    the frames the bot sent (RFC 6464: -dBov, whole dB)."""
    import asyncio

    from mctui.audio.levels import rms_dbfs

    await bots("wire", 1000, "wire-room")
    activity = sfu_server.coordinator.sfu.activity
    await asyncio.sleep(1.0)
    expected = round(float(rms_dbfs(tone(1000)[:960])[0]))
    room = activity._rooms["default:wire-room"]
    assert round(room.publishers["wire"].level_dbfs) == expected
