"""The replay history: packets placed by their RTP timestamps (jitter does not stretch speech),
a RED repeat plays once, a new stream starts a new run, old packets go, memory is bounded."""

from __future__ import annotations

import av
import numpy as np
import pytest

from mctui.client_media import history as h
from mctui.client_media.history import KEEP_S, PacketHistory, render


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def opus_frames(seconds: float, hz: float = 440.0) -> list[bytes]:
    """A tone as 20 ms Opus packets (PyAV's libopus)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48_000, "mono", "s16"
    samples = int(seconds * 48_000)
    pcm = (np.sin(2 * np.pi * hz * np.arange(samples) / 48_000) * 12_000).astype(np.int16)
    packets: list[bytes] = []
    for index in range(samples // 960):
        frame = av.AudioFrame.from_ndarray(
            pcm[None, index * 960 : (index + 1) * 960], format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48_000, index * 960
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


def envelope(audio: np.ndarray) -> np.ndarray:
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    return np.sqrt((mono[: mono.size // 960 * 960].reshape(-1, 960) ** 2).mean(axis=1))


def test_jittered_arrivals_land_on_their_timestamps() -> None:
    clock = Clock()
    history = PacketHistory(clock)
    packets = opus_frames(1.0)
    rng = np.random.default_rng(1)
    start = clock.now
    base = 123_456
    for index, payload in enumerate(packets):
        clock.now = start + 1.0 + index * 0.02 + float(rng.uniform(0, 0.06))  # up to 60 ms late
        history.record("ann", base + index * 960, payload)
        if index % 7 == 3:  # a RED repeat of this frame, arriving with the next one
            history.record("ann", base + index * 960, payload)
    clock.now = start + 3.0
    window_start, kept = history.window(3.0)
    audio = render(window_start, kept, 3.0, 2)
    loud = envelope(audio) > 0.05
    # one second of tone, one second after the window's start: frames 50..99, none beyond
    assert loud[52:98].all() and not loud[:49].any() and not loud[102:].any()
    assert abs(int(loud.sum()) - len(packets)) <= 2  # no frame twice, none stretched


def test_a_new_stream_is_placed_by_its_own_arrival() -> None:
    clock = Clock()
    history = PacketHistory(clock)
    packets = opus_frames(0.4)
    for base, at in ((10_000, 0.2), (9_000_000, 1.6)):
        for index, payload in enumerate(packets):
            clock.now = 1000.0 + at + index * 0.02
            history.record("bo", base + index * 960, payload)
    clock.now = 1002.0
    loud = envelope(render(*history.window(2.0), 2.0, 1)) > 0.05
    assert loud[12:28].all() and loud[82:98].all() and not loud[32:78].any()


def test_old_packets_go_and_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    history = PacketHistory(clock)
    for index in range(100):
        clock.now = 1000.0 + index
        history.record("cy", index * 960, b"x" * 100)
    assert history.seconds_held <= KEEP_S and history.bytes_held == 61 * 100
    monkeypatch.setattr(h, "MAX_BYTES", 1000)
    history.record("cy", 10**6, b"y" * 500)
    assert history.bytes_held <= 1000
