"""The SFU's relay slots (rtc/tracks.py): encoded packets forwarded as they came."""

from __future__ import annotations

from mctui.rtc.tracks import RelayTrack


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
