"""Spectral checks on recorded audio."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def band_level_db(signal: npt.NDArray[np.float32], hz: float, rate: int = 48_000) -> float:
    """Level (dB, relative to full-scale sine) of the strongest bin within 5 Hz of ``hz``."""
    if signal.size == 0:
        return -200.0
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window)) / (window.sum() / 2)
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    band = (freqs > hz - 5) & (freqs < hz + 5)
    return float(20 * np.log10(max(spectrum[band].max(), 1e-10)))


def peak_hz(signal: npt.NDArray[np.float32], rate: int = 48_000) -> float:
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window))
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    spectrum[freqs < 50] = 0
    return float(freqs[int(np.argmax(spectrum))])
