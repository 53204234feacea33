"""RTCP through mctui's receive tap: its receivers still build aiortc's statistics, so their
receiver reports tell each sender the loss and jitter they see (``rtc/hooks/receive_tap``)."""

from __future__ import annotations

import asyncio

from aiortc import RTCSessionDescription
from aiortc.rtp import RtpPacket

from mctui.bots.signals import tone
from mctui.rtc.peer import (
    close_peer_connection,
    new_peer_connection,
    take_audio_packets,
    wait_connected,
)
from mctui.rtc.tracks import CaptureTrack


async def test_the_sender_learns_the_loss_an_mctui_receiver_sees():
    """A sends a tone to B for 4 s; one packet in ten is lost before B's tap. A's getStats()
    then has a remote-inbound-rtp entry, from B's receiver reports, that counts them."""
    a, b = new_peer_connection(), new_peer_connection()
    track = CaptureTrack()
    a.addTransceiver(track, direction="sendonly")
    arrived = 0
    try:
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(RTCSessionDescription(sdp=a.local_sdp(), type="offer"))
        take_audio_packets(b, lambda _t, _packet: None)
        receiver = next(t.receiver for t in b.getTransceivers() if t.kind == "audio")
        taken = receiver._handle_rtp_packet

        async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
            nonlocal arrived
            arrived += 1
            if arrived % 10:
                await taken(packet, arrival_time_ms)

        receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(RTCSessionDescription(sdp=b.local_sdp(), type="answer"))
        assert await wait_connected(a, 10) == "connected"
        samples = tone(440, 0.5, 4.0)
        for at in range(0, samples.size - 960, 960):
            track.push(samples[at : at + 960])
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.6)  # aiortc reports every 0.5-1.5 s
        stats = await a.getStats()
        received = [s for s in (await b.getStats()).values() if s.type == "inbound-rtp"]
    finally:
        await close_peer_connection(a)
        await close_peer_connection(b)
    remote = [s for s in stats.values() if s.type == "remote-inbound-rtp"]
    assert remote, "no receiver report reached the sender"
    lost = remote[0].packetsLost
    print(f"the sender learnt: {lost} lost of {arrived} sent, jitter {remote[0].jitter}")
    assert 0.07 * arrived <= lost <= 0.13 * arrived
    assert received and received[0].packetsReceived >= 0.85 * arrived  # B's own stats too
