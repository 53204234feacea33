"""The microphone's voice processing, measured: WebRTC's echo canceller on a synthetic room,
its suppressor on steady noise and its gain control on a quiet and a loud voice.

Every media test uses hifi (processing would treat their tones as noise), so these and the echo
test bed (``tests/integration/engine/test_echo.py``, real speech, real media) are the tests that
break when the processing does.
"""

from __future__ import annotations

import numpy as np
import pytest

from mctui.audio.apm import VoiceProcessor
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE
from mctui.audio.levels import rms_dbfs
from mctui.audio.room import room_response


def babble(seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-shaped noise: syllable-rate bursts (4 Hz) of low-passed noise at about -20 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    noise = np.convolve(rng.standard_normal(n), np.ones(6) / 6, mode="same")
    return (noise * envelope * 0.25).astype(np.float32)


def run_room(processor: VoiceProcessor, far: np.ndarray, echo_delay_s: float) -> tuple:
    """The far end plays; the mic hears it through a room; returns (echo, sent) per frame."""
    echo = np.convolve(far, room_response(echo_delay_s, -9.0))[: far.size].astype(np.float32)
    sent = np.zeros_like(echo)
    for start in range(0, far.size - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        frame = slice(start, start + FRAME_SAMPLES)
        processor.render(far[frame])
        sent[frame] = processor.capture(echo[frame])
    return echo, sent


def level(signal: np.ndarray, start_s: float, end_s: float) -> float:
    return float(rms_dbfs(signal[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)])[0])


def test_the_canceller_removes_30_db_of_a_rooms_echo_within_3_s():
    """The canceller alone (ERLE is its figure): on speech-shaped noise, with the suppressor
    (it would take this noise for noise) and the gain control (it raises what is left by up to
    15 dB) off. Without the canceller the echo goes out."""
    far = babble(8.0)
    processor = VoiceProcessor(echo_cancellation=True, noise_suppression=False, gain_control=False)
    echo, sent = run_room(processor, far, 0.08)
    erle = level(echo, 3, 8) - level(sent, 3, 8)
    print(
        f"ERLE after 3 s: {erle:.1f} dB; {processor.cpu_s / processor.frames * 1e3:.2f} ms a frame"
    )
    assert erle >= 30.0
    bare = VoiceProcessor(echo_cancellation=False, noise_suppression=False, gain_control=False)
    echo, sent = run_room(bare, far, 0.08)
    assert level(echo, 3, 8) - level(sent, 3, 8) < 10.0


def test_the_suppressor_removes_steady_noise_and_the_gain_control_lifts_a_quiet_voice():
    """WebRTC's suppressor on steady white noise at -34 dBFS: at least 10 dB less once settled
    (measured: 14 dB); its gain control lifts speech-shaped sound at -40 dBFS by 10 dB or
    more (measured: 15 dB) and leaves it at -10 dBFS within 3 dB."""
    noise = np.random.default_rng(7).normal(0, 0.02, SAMPLE_RATE * 4).astype(np.float32)
    suppressor = VoiceProcessor(echo_cancellation=False, gain_control=False)
    out = np.concatenate([suppressor.capture(f) for f in noise.reshape(-1, FRAME_SAMPLES)])
    reduction = level(noise, 2, 4) - level(out, 2, 4)
    assert reduction > 10, f"only {reduction:.1f} dB of noise removed"
    for input_db, lifted in ((-40.0, True), (-10.0, False)):
        voice = babble(6.0)
        voice *= 10 ** (input_db / 20) / np.sqrt(np.mean(voice**2))
        agc = VoiceProcessor(echo_cancellation=False, noise_suppression=False)
        out = np.concatenate([agc.capture(f) for f in voice.reshape(-1, FRAME_SAMPLES)])
        gain = level(out, 3, 6) - level(voice, 3, 6)
        assert gain >= 10.0 if lifted else abs(gain) <= 3.0, (input_db, gain)


def test_the_room_response_has_its_delay_and_level():
    response = room_response(0.1, -9.0)
    first = int(np.argmax(np.abs(response) > 0))
    assert first == int(0.1 * SAMPLE_RATE)
    assert 20 * np.log10(abs(response[first])) == pytest.approx(-9.0, abs=0.01)
    tail = response[first + 1 :]
    early, late = tail[: SAMPLE_RATE // 20], tail[SAMPLE_RATE // 10 : SAMPLE_RATE * 3 // 20]
    assert np.sqrt(np.mean(late**2)) < np.sqrt(np.mean(early**2)) / 4  # it decays
