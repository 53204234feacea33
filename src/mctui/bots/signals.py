"""Known signals for synthetic participants: steady tones and speech-like bursts.

Bursts are band-limited noise shaped like syllables (200-600 ms on, 150-700 ms off, random
amplitude), so speaking indicators and meters move like they do for a person talking.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mctui.audio.config import SAMPLE_RATE

Signal = npt.NDArray[np.float32]


def tone(hz: float, amplitude: float = 0.5, seconds: float = 1.0) -> Signal:
    """A sine; one second of a whole-Hz tone loops without a click."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def speech_like(seconds: float = 12.0, seed: int = 0, amplitude: float = 0.35) -> Signal:
    """Syllable-shaped bursts of voice-band noise with pauses, looped by the backend."""
    rng = np.random.default_rng(seed)
    total = int(SAMPLE_RATE * seconds)
    out = np.zeros(total, dtype=np.float32)
    pos = int(rng.uniform(0.1, 0.5) * SAMPLE_RATE)
    spectrum_freqs = np.fft.rfftfreq(SAMPLE_RATE, 1 / SAMPLE_RATE)
    band = ((spectrum_freqs > 150) & (spectrum_freqs < 3500)).astype(np.float64)
    while pos < total:
        length = int(rng.uniform(0.2, 0.6) * SAMPLE_RATE)
        noise = rng.standard_normal(SAMPLE_RATE)
        voiced = np.fft.irfft(np.fft.rfft(noise) * band, n=SAMPLE_RATE)[:length]
        voiced /= np.max(np.abs(voiced)) + 1e-9
        envelope = np.sin(np.linspace(0, np.pi, length)) ** 0.5
        end = min(total, pos + length)
        level = amplitude * rng.uniform(0.5, 1.0)
        out[pos:end] = (level * voiced * envelope)[: end - pos]
        pos = end + int(rng.uniform(0.15, 0.7) * SAMPLE_RATE)
    return out
