"""Each speed fix behind a test (the figures themselves live in benchmarks/)."""

from __future__ import annotations

import asyncio

import numpy as np

from helpers import wait_heard
from mctui import CallType
from mctui.audio.adm import STANDBY_FRAMES, AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.bots.signals import tone
from mctui.rtc.jitter import FRAME_S, SLACK_S
from mctui.rtc.peer import new_peer_connection, open_peer_connections
from mctui.rtc.playout import PlayoutStream
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


async def test_loopback_connections_offer_only_127_0_0_1_candidates():
    """The effect of the candidate policy: what a connection offers, not what was set."""
    pc = new_peer_connection()
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        candidates = [
            line.split()[4]
            for line in pc.localDescription.sdp.splitlines()
            if line.startswith("a=candidate:")
        ]
        assert candidates and set(candidates) == {"127.0.0.1"}
    finally:
        await pc.close()


async def test_jitter_look_ahead_on_loopback_follows_the_measured_spread(media_client, bots):
    """The effect of taking packets from aiortc's receivers: on loopback the adaptive buffer
    holds the look-ahead that the measured transit spread calls for (one frame when the spread
    is within the slack), at most two frames, and conceals nothing; aiortc's own buffer (which
    waits for 16 packets) and decoder see no packet.

    Bot, SFU and client share this process's loop and thread pool, so the sender's scheduling
    alone can spread transit times over 5 ms on a busy machine (measured: p95 2.5-5.2 ms above
    the fastest): then two frames are right, and the test checks the buffer says so."""
    await bots("tick", 440, "jitter")
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "jitter")
    await call.join()
    await wait_heard(call, "tick")
    assert call.adm is not None
    stream = call.adm.remotes["tick"].source
    assert isinstance(stream, PlayoutStream)
    buffer = stream.buffer
    await asyncio.sleep(1.0)
    for _ in range(80):  # the join's first burst leaves the 4 s window; the buffer shrinks
        if buffer.target_frames <= 2 and buffer.level_frames <= buffer.target_frames + 1:
            break
        await asyncio.sleep(0.1)
    spread = max(0.0, buffer._transit_p95 - buffer._sorted[0] - SLACK_S)
    assert buffer.target_frames <= 2, f"{spread * 1000:.1f} ms of spread on loopback"
    assert buffer.target_frames == 1 - int(-spread // FRAME_S)  # ceil: whole frames
    assert buffer.level_frames <= buffer.target_frames + 1
    assert stream.stats.concealed <= 2 and stream.stats.played >= 40
    # the packets went to mctui's playout, not to aiortc's buffer and decoder (whose track
    # would otherwise fill up, since nobody reads it)
    taken = [
        t.receiver
        for pc in open_peer_connections()
        for t in pc.getTransceivers()
        if t.kind == "audio" and getattr(t.receiver, "_mctui_taken", False)
    ]
    assert taken
    for receiver in taken:
        assert receiver.track is None or receiver.track._queue.qsize() == 0


async def test_sfu_relay_slots_carry_encoded_packets_with_their_own_timeline():
    import av

    relay = RelayTrack()
    got = []
    for publisher, timestamp, payload in [
        ("ann", 4_294_966_000, b"\x01\x02"),  # near the 32-bit wrap
        ("ann", (4_294_966_000 + 1920) % 2**32, b"\x03"),  # one lost upstream
        ("ann", (4_294_966_000 + 960) % 2**32, b"\x04"),  # then it arrives late
        ("bob", 77, b"\x05"),  # the slot switches publisher
    ]:
        relay.forward(publisher, timestamp, payload)
        got.append(await relay.recv())
    assert all(isinstance(p, av.Packet) for p in got)
    assert bytes(got[0]) == b"\x01\x02"  # forwarded untouched: no decode, no re-encode
    assert [p.pts for p in got] == [0, 1920, 960, 2880]
    # a slot whose sender is not sending yet keeps only the newest few: no stale burst later
    for i in range(10):
        relay.forward("bob", 77 + 960 * (i + 1), bytes([i]))
    assert relay._queue.qsize() == 3
    assert bytes(await relay.recv()) == bytes([7])
    relay.stop()


def test_meter_is_drawn_in_a_few_runs_not_one_segment_per_cell():
    text = render_meter(60, -12.0, -6.0, muted=False)
    assert text.cell_len == 60
    assert len(text.spans) <= 6
    hollow = render_meter(60, -12.0, None, muted=True)
    assert "░" in hollow.plain and len(hollow.spans) <= 6


def test_fast_audio_level_is_the_true_rms_and_aiortcs_module_is_untouched():
    """Ours is the frame's RMS in whole dB; aiortc's reads an L = R stereo frame 3 dB high (it
    divides both channels' energy by one channel's samples). How much faster ours is, is the
    benchmarks' business."""
    import aiortc.rtp

    from mctui.audio.levels import rms_dbfs
    from mctui.rtc import peer
    from mctui.rtc.frames import to_av_frame

    assert aiortc.rtp.compute_audio_level_dbov is peer.ORIGINAL_AUDIO_LEVEL_DBOV  # untouched
    original = peer.ORIGINAL_AUDIO_LEVEL_DBOV  # aiortc's pure-Python one
    rng = np.random.default_rng(1)
    assert peer.audio_level_dbov(to_av_frame(np.zeros(960, np.float32), 0)) == -127
    for amplitude in (0.001, 0.05, 0.5, 1.0):
        mono = (amplitude * rng.uniform(-1, 1, 960)).astype(np.float32)
        frame = to_av_frame(mono, 0)
        pcm = np.round(np.clip(mono, -1, 1) * 32767) / 32767  # what the frame holds
        assert peer.audio_level_dbov(frame) == round(float(rms_dbfs(pcm)[0]))
        assert abs(original(frame) - peer.audio_level_dbov(frame) - 3) <= 1


async def test_the_level_on_the_wire_is_the_sent_frames_level(sfu_server, bots, monkeypatch):
    """The effect of the per-sender level step: the SFU reads, in each RTP header, the RMS of
    the frames the bot sent (RFC 6464: -dBov, whole dB)."""
    import asyncio

    import aiortc.rtp

    from mctui.audio.levels import rms_dbfs

    consulted: list[int] = []  # aiortc's own level function: mctui's senders never call it
    monkeypatch.setattr(aiortc.rtp, "compute_audio_level_dbov", lambda f: consulted.append(1) or 0)
    await bots("wire", 1000, "wire-room")
    activity = sfu_server.coordinator.sfu.activity
    await asyncio.sleep(1.0)
    expected = round(float(rms_dbfs(tone(1000)[:960])[0]))
    room = activity._rooms["default:wire-room"]
    assert round(room.publishers["wire"].level_dbfs) == expected
    assert consulted == []
