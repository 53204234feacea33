"""RED (RFC 2198): the format, its SDP negotiation, and its effect on real aiortc connections
(a lost packet's frame still reaches the receiver, from the repeat in a later packet)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from aiortc import RTCSessionDescription
from aiortc.rtp import RtpPacket

from mctui.bots.signals import tone
from mctui.rtc import red
from mctui.rtc.peer import (
    RepairedPacket,
    close_peer_connection,
    new_peer_connection,
    take_audio_packets,
    wait_connected,
)
from mctui.rtc.tracks import CaptureTrack

OPUS_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8",
        "a=mid:0",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "m=audio 9 UDP/TLS/RTP/SAVPF 0",
        "a=mid:1",
        "a=rtpmap:0 PCMU/8000",
        "",
    ]
)


def test_a_red_payload_unpacks_to_the_frames_it_was_packed_from() -> None:
    history = [(1000, b"a" * 300), (1960, b"b" * 5)]
    payload = red.pack(b"primary", 2920, history, 111)
    assert red.unpack(payload, 2920) == [*history, (2920, b"primary")]
    # no history: a one-byte header, then the primary
    assert red.pack(b"x", 5, [], 111) == bytes([111]) + b"x"
    # what RED cannot carry is left out: a block of 1024 bytes or more, an offset of 2^14 or more
    # (or a frame from the future)
    skipped = red.pack(b"p", 20_000, [(1, b"old"), (19_000, b"x" * 1024), (30_000, b"f")], 111)
    assert red.unpack(skipped, 20_000) == [(20_000, b"p")]


def test_timestamps_wrap_and_malformed_red_raises() -> None:
    payload = red.pack(b"p", 500, [(0xFFFFFF00, b"old")], 111)
    assert red.unpack(payload, 500) == [(0xFFFFFF00, b"old"), (500, b"p")]
    for bad in [b"", b"\x80\x00", bytes([0xEF, 0, 0x04, 0x10, 111]) + b"short"]:
        with pytest.raises(ValueError):
            red.unpack(bad, 0)


def test_the_encoder_repeats_its_last_two_frames_and_forgets_a_source_that_jumps_back() -> None:
    encoder = red.RedEncoder(111)
    for i, frame in enumerate([b"f0", b"f1", b"f2", b"f3"]):
        payload = encoder.wrap(frame, i * 960)
    assert red.unpack(payload, 3 * 960) == [(960, b"f1"), (1920, b"f2"), (2880, b"f3")]
    assert red.unpack(encoder.wrap(b"g", 100), 100) == [(100, b"g")]


def test_red_is_offered_in_audio_sections_with_opus_and_answered_only_where_offered() -> None:
    offer = red.offer_red(OPUS_OFFER)
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8 63\r\n" in offer
    assert "a=rtpmap:63 red/48000/2\r\na=fmtp:63 96/96" in offer
    formats = red.red_formats(offer)
    assert formats == {"0": red.RedFormat(63, 96)}  # the PCMU-only section has no Opus to carry
    assert red.offer_red(offer) == offer  # offered once
    # a browser's offer: RED on its own payload type is kept
    browser = OPUS_OFFER.replace("96 0 8", "111 63").replace("rtpmap:96", "rtpmap:111")
    browser = browser.replace(
        "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8", "a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=x"
    )
    assert red.red_formats(browser) == {"0": red.RedFormat(63, 111)}
    # the answer accepts it on the offer's payload types, and only in that section
    answer = OPUS_OFFER.replace("96 0 8", "111").replace("rtpmap:96", "rtpmap:111")
    accepted = red.answer_red(answer, red.red_formats(browser))
    assert red.red_formats(accepted) == {"0": red.RedFormat(63, 111)}
    assert red.answer_red(answer, {}) == answer
    # 63 taken: the first free dynamic type
    taken = OPUS_OFFER.replace("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8", "a=rtpmap:63 x/8000\r\na=y")
    assert red.red_formats(red.offer_red(taken))["0"].red_pt == 97
    # RED that carries another codec is not ours to use
    other = offer.replace("a=fmtp:63 96/96", "a=fmtp:63 0/0")
    assert red.red_formats(other) == {}


async def _send_through(
    drop_every: int, red_offer: bool, red_answer: bool
) -> tuple[list[RtpPacket], list[int], str]:
    """A sends a tone to B for about 1.5 s; B's receiver loses every ``drop_every``-th packet
    before it is unpacked. Returns what B handed on, the payload types on the wire, and B's
    answer."""
    a = new_peer_connection(red=red_offer)
    b = new_peer_connection(red=red_answer)
    track = CaptureTrack()
    a.addTransceiver(track, direction="sendonly")
    got: list[RtpPacket] = []
    wire: list[int] = []
    try:
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(_description(a.local_sdp(), "offer"))
        take_audio_packets(b, lambda _t, packet: got.append(packet))
        receiver = next(t.receiver for t in b.getTransceivers() if t.kind == "audio")
        taken = receiver._handle_rtp_packet

        async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
            wire.append(packet.payload_type)
            if len(wire) % drop_every:
                await taken(packet, arrival_time_ms)

        receiver._handle_rtp_packet = lossy
        await b.setLocalDescription(await b.createAnswer())
        answer = b.local_sdp()
        await a.setRemoteDescription(_description(answer, "answer"))
        assert await wait_connected(a, 10) == "connected"
        samples = tone(1000, 0.5, 1.5)
        for at in range(0, samples.size - 960, 960):
            track.push(samples[at : at + 960])
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    finally:
        await close_peer_connection(a)
        await close_peer_connection(b)
    return got, wire, answer


def _description(sdp: str, kind: str) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=sdp, type=kind)


async def test_a_lost_packets_frame_arrives_from_the_next_packets_repeat() -> None:
    """The effect of the per-transceiver RED hooks (sender parameters, receiver parameters,
    unpacking): every fourth packet is lost, and every frame still arrives, once, in order of
    need; the lost ones as ``RepairedPacket``."""
    got, wire, answer = await _send_through(4, red_offer=True, red_answer=True)
    assert red.red_formats(answer), "the answer accepts RED"
    assert set(wire) == {red.red_formats(answer)["0"].red_pt}, "RED on the wire"
    stamps = [p.timestamp for p in got]
    assert len(stamps) == len(set(stamps)), "each frame handed on once"
    steps = np.diff(sorted(stamps))
    assert set(steps.tolist()) == {960}, "no frame missing"
    repaired = sum(isinstance(p, RepairedPacket) for p in got)
    dropped = len(wire) // 4
    assert dropped - 1 <= repaired <= dropped  # the last drop may have no packet after it
    assert {p.payload_type for p in got} == {red.red_formats(answer)["0"].opus_pt}
    # under RED Opus is asked for 48 kbit/s, not aiortc's 96 (libopus overshoots both on this
    # tone: 217 and 369 bytes a frame measured)
    assert float(np.median([len(p.payload) for p in got])) < 300


async def test_without_red_on_one_side_the_connection_sends_plain_opus() -> None:
    got, wire, answer = await _send_through(4, red_offer=True, red_answer=False)
    assert red.red_formats(answer) == {}
    assert set(wire) == {got[0].payload_type}  # Opus
    stamps = sorted(p.timestamp for p in got)
    assert not any(isinstance(p, RepairedPacket) for p in got)
    assert max(np.diff(stamps)) == 1920, "a lost packet stays lost"
    assert float(np.median([len(p.payload) for p in got])) > 300  # 96 kbit/s
