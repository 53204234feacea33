"""Peer connections on 127.0.0.1 as mctui makes them (rtc/peer.py): the candidates offered, the
packets taken from aiortc's receivers into mctui's playout, the level written on the wire."""

from __future__ import annotations

import asyncio

from helpers import wait_heard
from mctui import CallType
from mctui.bots.signals import tone
from mctui.client_media.playout import PlayoutStream
from mctui.rtc.hooks.receive_tap import is_taken
from mctui.rtc.peer import new_peer_connection, open_peer_connections
from spectrum import band_level_db


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


async def test_received_packets_feed_mctuis_playout_and_never_aiortcs_buffer(media_client, bots):
    """The effect of taking packets from aiortc's receivers: every frame the user hears comes
    from mctui's adaptive buffer and concealing decoder, and aiortc's own buffer (which waits
    for 16 packets) and decoder see no packet. How much look-ahead the buffer holds on a path
    is the unit tier's business (``unit/rtc/test_jitter.py``, exact figures); how long it takes
    on loopback, the benchmarks' (``mouth_to_ear``)."""
    await bots("tick", 440, "jitter")
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "jitter")
    await call.join()
    await wait_heard(call, "tick", played=True)
    assert call.adm is not None
    stream = call.adm.remotes["tick"].source
    assert isinstance(stream, PlayoutStream)
    played_before = stream.stats.played
    user.audio.backend.clear_output()  # type: ignore[union-attr,attr-defined]
    await asyncio.sleep(1.0)
    heard = user.audio.backend.output()  # type: ignore[union-attr,attr-defined]
    assert band_level_db(heard, 440) > -30
    assert stream.stats.played - played_before >= 40  # about 50 device frames in that second
    # the packets went to mctui's playout, not to aiortc's buffer and decoder (whose track
    # would otherwise fill up, since nobody reads it)
    taken = [
        t.receiver
        for pc in open_peer_connections()
        for t in pc.getTransceivers()
        if t.kind == "audio" and is_taken(t.receiver)
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
