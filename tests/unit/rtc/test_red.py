"""RED (RFC 2198): the format and its SDP negotiation, as pure functions (the effect on real
connections: ``integration/rtc/test_red_connections.py``)."""

from __future__ import annotations

import pytest

from mctui.rtc import red

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
