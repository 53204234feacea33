"""The broadcaster's voice chain, measured: high-pass, gain control, noise suppression.

Every media test uses hifi (the chain would suppress their tones), so these are the tests that
break when the chain does.
"""

from __future__ import annotations

import numpy as np
import pytest

from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE
from mctui.audio.levels import rms_dbfs
from mctui.audio.voice import TARGET_DBFS, VoiceChain, noise_suppression_available
from mctui.bots.signals import tone


def run(chain: VoiceChain, signal: np.ndarray) -> np.ndarray:
    frames = signal[: signal.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return np.concatenate([chain.process(f.astype(np.float32)) for f in frames])


def steady_level(out: np.ndarray) -> float:
    return float(rms_dbfs(out[-SAMPLE_RATE // 2 :])[0])  # the last half second


def test_the_frame_by_frame_high_pass_equals_the_sample_by_sample_filter():
    from mctui.audio.voice import HighPass

    signal = np.random.default_rng(3).normal(0, 0.2, FRAME_SAMPLES * 40)
    framed = HighPass(90.0)
    out = np.concatenate(
        [framed.process(f.astype(np.float32)) for f in signal.reshape(-1, FRAME_SAMPLES)]
    )
    reference = HighPass(90.0)._run(signal.astype(np.float32).astype(np.float64), 0.0, 0.0)
    assert np.max(np.abs(out - reference)) < 1e-6  # float32 output, exact otherwise
    odd = HighPass(90.0)  # frames that are not device frames take the plain path, same result
    pieces = [odd.process(signal[:1].astype(np.float32))]
    pieces += [odd.process(signal[1:2000].astype(np.float32))]
    pieces += [odd.process(signal[2000:2960].astype(np.float32))]
    assert np.max(np.abs(np.concatenate(pieces) - reference[:2960])) < 1e-6


def test_high_pass_attenuates_50_hz_by_the_designed_amount():
    """2nd-order Butterworth at 90 Hz: 20*log10(1/sqrt(1+(90/50)**4)) = -10.6 dB at 50 Hz,
    about -0.2 dB at 1 kHz. Measured with the gain control out of the way (same level in both)."""
    expected_50 = 20 * np.log10(1 / np.sqrt(1 + (90 / 50) ** 4))
    hum = run(VoiceChain(noise_suppression=False), tone(50, 0.1, 3.0))
    voice = run(VoiceChain(noise_suppression=False), tone(1000, 0.1, 3.0))
    # the gain control brings both toward its target; the *difference* is the filter's
    filtered = VoiceChain(noise_suppression=False)
    filtered._agc = lambda frame: frame  # type: ignore[method-assign]
    hum_only = run(filtered, tone(50, 0.1, 3.0))
    assert steady_level(hum_only) - float(rms_dbfs(tone(50, 0.1)[:SAMPLE_RATE])[0]) == (
        pytest.approx(expected_50, abs=0.5)
    )
    assert steady_level(voice) > steady_level(hum)  # after gain control too, hum stays below


@pytest.mark.parametrize(("amplitude", "louder"), [(0.02, True), (0.9, False)])
def test_gain_control_moves_quiet_and_loud_input_toward_its_target(amplitude, louder):
    """Tone bursts (the noise suppressor is off here, so a tone stands in for a voice):
    -37 dBFS is brought up and -4 dBFS brought down, each at least 6 dB closer to -20 dBFS."""
    t = np.arange(SAMPLE_RATE * 6) / SAMPLE_RATE
    bursts = (np.sin(2 * np.pi * 1.5 * t) > -0.5).astype(np.float32)  # speech-like on/off
    source = (tone(1000, amplitude, 6.0) * bursts).astype(np.float32)
    chain = VoiceChain(noise_suppression=False)
    out = run(chain, source)
    on = bursts[: out.size] > 0
    before = float(rms_dbfs(source[: out.size][on][-SAMPLE_RATE:])[0])
    after = float(rms_dbfs(out[on][-SAMPLE_RATE:])[0])
    assert abs(after - TARGET_DBFS) < abs(before - TARGET_DBFS) - 6, (before, after)
    assert (chain.gain_db > 6) if louder else (chain.gain_db < -6)


def test_silence_is_not_amplified():
    chain = VoiceChain(noise_suppression=False)
    out = run(chain, np.full(SAMPLE_RATE, 1e-4, dtype=np.float32) * np.sign(tone(300, 1.0)))
    assert chain.gain_db == pytest.approx(0.0, abs=1.0)
    assert float(rms_dbfs(out[-4800:])[0]) < -70


@pytest.mark.skipif(not noise_suppression_available(), reason="pyrnnoise is x86-64 Linux only")
def test_noise_suppression_removes_steady_noise():
    """RNNoise on steady white noise at -34 dBFS: at least 20 dB less once it has settled
    (measured: about 33 dB). Its gain on real speech needs real speech to measure; synthetic
    voices are (rightly) treated as noise by it."""
    noise = np.random.default_rng(7).normal(0, 0.02, SAMPLE_RATE * 4).astype(np.float32)
    with_ns = VoiceChain(noise_suppression=True)
    with_ns._agc = lambda frame: frame  # type: ignore[method-assign]
    out = run(with_ns, noise)
    with_ns.close()
    reduction = float(rms_dbfs(noise[SAMPLE_RATE * 2 :])[0] - rms_dbfs(out[SAMPLE_RATE * 2 :])[0])
    assert reduction > 20, f"only {reduction:.1f} dB of noise removed"
