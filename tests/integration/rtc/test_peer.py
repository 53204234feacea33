"""Peer connections on 127.0.0.1 as mctui makes them (rtc/peer.py): the candidates offered, the
packets taken from aiortc's receivers into mctui's playout, the level written on the wire."""

from __future__ import annotations

import asyncio

from helpers import wait_heard
from mctui import CallType
from mctui.bots.signals import tone
from mctui.rtc.jitter import FRAME_S, SLACK_S
from mctui.rtc.peer import new_peer_connection, open_peer_connections
from mctui.rtc.playout import PlayoutStream


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
        assert receiver.track is None or receiver.track._queue.qsize() == 0  # type: ignore[attr-defined]


async def test_the_level_on_the_wire_is_the_sent_frames_level(sfu_server, bots, monkeypatch):
    """The effect of the per-sender level step: the SFU reads, in each RTP header, the RMS of
    the frames the bot sent (RFC 6464: -dBov, whole dB)."""
    import asyncio

    import aiortc.rtp

    from mctui.audio.levels import rms_dbfs

    consulted: list[int] = []  # aiortc's own level function: mctui's senders never call it

    def aiortcs_own(frame: object) -> int:
        consulted.append(1)
        return 0

    monkeypatch.setattr(aiortc.rtp, "compute_audio_level_dbov", aiortcs_own)
    await bots("wire", 1000, "wire-room")
    activity = sfu_server.coordinator.sfu.activity
    await asyncio.sleep(1.0)
    expected = round(float(rms_dbfs(tone(1000)[:960])[0]))
    room = activity._rooms["default:wire-room"]
    assert round(room.publishers["wire"].level_dbfs) == expected
    assert consulted == []
