"""The adaptive jitter buffer and the concealing playout, on simulated networks and real Opus."""

from __future__ import annotations

import fractions
import heapq
import random
from collections.abc import Callable

import av
import numpy as np
import pytest

from mctui.client_media.jitter import FRAME_TICKS, AdaptiveJitterBuffer, Decision, Pulled
from mctui.client_media.opus import OpusDecoder
from mctui.client_media.playout import PlayoutStream
from spectrum import band_level_db, longest_silence_ms


def _simulate(
    loss: float,
    delay_s: float,
    jitter_s: float,
    seconds: int = 40,
    seed: int = 7,
    extra: Callable[[int], float] = lambda i: 0.0,
) -> tuple[list[Decision], list[float], AdaptiveJitterBuffer]:
    """Packets sent every 20 ms over a path with random loss and uniform delay (plus
    ``extra(i)`` for packet i); the buffer pulled every 20 ms. Returns the decisions from the
    first play on, and the lag of each frame played (playout time minus send time)."""
    rnd = random.Random(seed)
    buffer = AdaptiveJitterBuffer()
    arrivals: list[tuple[float, int]] = []
    for i in range(seconds * 50):
        if rnd.random() >= loss:
            at = i * 0.02 + delay_s + rnd.uniform(-jitter_s, jitter_s) + extra(i)
            heapq.heappush(arrivals, (at, i))
    decisions: list[Decision] = []
    lags: list[float] = []
    now = 0.0031
    while now < seconds:
        while arrivals and arrivals[0][0] <= now:
            at, i = heapq.heappop(arrivals)
            buffer.push((i * FRAME_TICKS + 3_000_000_000) % 2**32, bytes([i % 256]), at)
        pulled = buffer.pull(now)
        if decisions or pulled.decision is Decision.PLAY:
            decisions.append(pulled.decision)
        if pulled.decision is Decision.PLAY and pulled.payload:
            assert buffer._next is not None
            lags.append(now - (buffer._next / 48_000 - 0.02))
        now += 0.02
    return decisions, lags, buffer


def test_a_clean_path_keeps_one_frame_of_look_ahead():
    decisions, lags, buffer = _simulate(0.0, 0.001, 0.0005)
    assert set(decisions) == {Decision.PLAY}
    assert buffer.target_frames == 1
    assert max(lags) < 0.025  # played on the first device frame after it arrived


@pytest.mark.parametrize("loss", [0.05, 0.10, 0.20])
def test_loss_and_jitter_never_stall(loss):
    """Every device frame is real or concealed (no silence, no stall), and the look-ahead
    covers the jitter without growing without bound."""
    decisions, lags, buffer = _simulate(loss, 0.040, 0.020)
    played = sum(d in (Decision.PLAY, Decision.RECOVER, Decision.CONCEAL) for d in decisions)
    assert played == len(decisions)
    assert decisions.count(Decision.PLAY) / len(decisions) >= 1 - loss - 0.03
    # transit spread uniformly over 40 ms: its 95th percentile is about 38 ms above the fastest,
    # less the 4 ms slack 34 ms, two whole frames beyond the one every stream has
    assert buffer.target_frames == 3
    steady = sorted(lags[len(lags) // 2 :])
    # network delay 40 ms +- 20: about 60 ms after the fastest packet, and never runaway
    assert steady[len(steady) // 2] < 0.040 + 0.060
    assert buffer.stats.late <= 0.02 * buffer.stats.received


@pytest.mark.parametrize(("late_every", "target"), [(10, 3), (50, 1)])
def test_the_look_ahead_covers_the_95th_percentile_of_transit(late_every, target):
    """Every ``late_every``-th packet comes 30 ms late, the rest at once. One in ten late is
    more than 5 %: the look-ahead must wait for it (30 ms less the 4 ms slack: two frames more
    than the one every stream has), although the median packet is on time. One in fifty late
    is within the 5 % the buffer lets go (concealed): no extra wait."""

    def late(i: int) -> float:
        return 0.030 if i % late_every == 0 else 0.0

    decisions, lags, buffer = _simulate(0.0, 0.001, 0.0, seconds=10, extra=late)
    assert buffer.target_frames == target


def test_the_buffer_grows_when_the_path_gets_jittery_and_shrinks_slowly_after():
    rnd = random.Random(5)

    def jittery_middle(i: int) -> float:  # 10 s of 40 +- 20 ms, clean before and after
        return 0.040 + rnd.uniform(-0.020, 0.020) if 500 <= i < 1000 else 0.0

    decisions, lags, buffer = _simulate(0.0, 0.002, 0.0005, seconds=40, extra=jittery_middle)
    assert buffer.stats.stretches >= 1  # it grew (waited) when packets came later
    assert buffer.stats.late <= 0.05 * 500  # and then covered the jitter: few came too late
    assert buffer.stats.shrinks >= 2  # and gave the delay back afterwards, a frame at a time
    assert decisions[-200:].count(Decision.PLAY) == 200
    assert max(lags[-100:]) < 0.030  # back to one frame of look-ahead
    assert buffer.target_frames == 1


def test_a_sender_that_pauses_restarts_without_a_backlog():
    buffer = AdaptiveJitterBuffer()
    for i in range(50):
        buffer.push(i * FRAME_TICKS, b"a", i * 0.02)
        buffer.pull(i * 0.02 + 0.001)
    # muted for 3 s: its timestamps carry on from where they stopped
    silent = [buffer.pull(1.0 + k * 0.02).decision for k in range(150)]
    assert silent[-1] is Decision.SILENCE
    buffer.push(50 * FRAME_TICKS, b"b", 4.0)
    assert buffer.pull(4.001).decision is Decision.PLAY
    assert buffer.level_frames == 0


def _opus_packets(seconds: float, hz: float = 1000.0, amplitude: float = 0.5) -> list[bytes]:
    t = np.arange(int(48_000 * seconds)) / 48_000
    return _opus_packets_of(amplitude * np.sin(2 * np.pi * hz * t))


def _opus_packets_of(mono: np.ndarray) -> list[bytes]:
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = 64_000
    codec.format = "s16"
    codec.layout = "stereo"
    codec.sample_rate = 48_000
    codec.time_base = fractions.Fraction(1, 48_000)
    codec.options = {"application": "voip"}
    pcm = (np.stack([mono, mono], axis=1) * 32767).astype(np.int16)
    packets: list[bytes] = []
    for start in range(0, len(pcm) - 959, 960):
        frame = av.AudioFrame.from_ndarray(
            pcm[start : start + 960].reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48_000
        frame.pts = start
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


def test_opus_concealment_keeps_a_tone_where_silence_would_leave_a_hole():
    packets = _opus_packets(2.0)
    decoder = OpusDecoder()
    out = [decoder.decode(p) for p in packets[:40]]
    concealed = decoder.conceal(960)
    assert concealed.shape == (960, 2)
    # the concealed frame carries the tone at nearly full level (silence would be -200 dB)
    assert band_level_db(concealed[:, 0], 1000) > -12
    assert band_level_db(out[-1][:, 0], 1000) > -8
    recovered = decoder.recover(packets[42], 960)
    assert recovered.shape == (960, 2) and np.abs(recovered).max() > 0.1


def test_the_playout_stream_fills_every_device_frame_through_loss():
    """Real Opus through the buffer with 10 % loss: every device frame has audio and the tone
    stays the strongest thing in it."""
    packets = _opus_packets(4.0)
    clock = [0.0]
    stream = PlayoutStream(clock=lambda: clock[0])
    rnd = random.Random(3)
    frames: list[np.ndarray] = []
    for i, payload in enumerate(packets):
        clock[0] = i * 0.02 + 0.002
        if rnd.random() >= 0.10:
            stream.push(i * 960, payload)
        clock[0] += 0.001
        frame = stream.pull()
        if frame is not None or frames:
            assert frame is not None, "a device frame without audio"
            frames.append(frame[:, 0])
    assert stream.stats.concealed >= 20
    audio = np.concatenate(frames[25:])
    assert band_level_db(audio, 1000) > -10
    # Opus conceals a lost frame with sound like its neighbours': no frame is a hole (the
    # tone is 9 dB below full scale; a frame of zeros would read -inf)
    assert longest_silence_ms(audio, floor_dbfs=-30) == 0


def test_shrinking_drops_the_quieter_frame_not_a_click():
    """When the buffer shrinks it decodes two packets and plays one: the louder, so a short
    sound in a mostly quiet stream (a click, a syllable's onset) is never the one dropped."""
    t = np.arange(48_000 // 2) / 48_000
    signal = 0.02 * np.sin(2 * np.pi * 200 * t)  # a soft bed
    # a click early in frame 10 (Opus delays it by 6.5 ms: it stays inside the decoded frame 10)
    signal[10 * 960 : 10 * 960 + 300] += 0.8 * np.sin(2 * np.pi * 1000 * t[:300])
    packets = _opus_packets_of(signal)
    stream = PlayoutStream(clock=lambda: 0.0)
    for payload in packets[:10]:
        stream._decoder.decode(payload)

    class Shrinking:  # the buffer's decision: drop one of frames 10 and 11
        stats = stream.buffer.stats

        def pull(self, now: float) -> Pulled:
            return Pulled(Decision.PLAY, packets[11], skip=packets[10])

    stream.buffer = Shrinking()  # type: ignore[assignment]
    frame = stream.pull()
    assert frame is not None
    assert np.abs(frame).max() > 0.3, "the loud frame was the one dropped"


def test_a_stale_backlog_at_start_is_skipped_not_played_late():
    """Ten packets that waited on the sender's side arrive at once: play from the newest."""
    buffer = AdaptiveJitterBuffer()
    for i in range(10):
        buffer.push(i * FRAME_TICKS, bytes([i]), 1.0 + i * 0.0001)
    first = buffer.pull(1.001)
    assert first.decision is Decision.PLAY and first.payload == bytes([8])
    buffer.push(10 * FRAME_TICKS, bytes([10]), 1.02)
    assert buffer.pull(1.021).payload == bytes([9])
    assert buffer.target_frames == 1
