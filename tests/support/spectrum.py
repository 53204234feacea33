"""Spectral checks on recorded audio."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

WINDOW_S = 0.2  # a recording is judged in windows this long


def band_level_db(signal: npt.NDArray[np.float32], hz: float, rate: int = 48_000) -> float:
    """Level (dB, relative to full-scale sine) of the strongest bin within 5 Hz of ``hz``."""
    if signal.size == 0:
        return -200.0
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window)) / (window.sum() / 2)
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    band = (freqs > hz - 5) & (freqs < hz + 5)
    return float(20 * np.log10(max(spectrum[band].max(), 1e-10)))


def stereo_band_level_db(signal: npt.NDArray[np.float32], hz: float, rate: int = 48_000) -> float:
    """``band_level_db`` of a stereo recording as heard: the power mean of its two channels, so
    a room panned to one side (same power, other balance) reads as it does in the centre."""
    if signal.ndim == 1:
        return band_level_db(signal, hz, rate)
    powers = [10 ** (band_level_db(signal[:, ch], hz, rate) / 10) for ch in range(signal.shape[1])]
    return float(10 * np.log10(max(float(np.mean(powers)), 1e-20)))


def peak_hz(signal: npt.NDArray[np.float32], rate: int = 48_000) -> float:
    window = np.hanning(signal.size)
    spectrum = np.abs(np.fft.rfft(signal * window))
    freqs = np.fft.rfftfreq(signal.size, 1 / rate)
    spectrum[freqs < 50] = 0
    return float(freqs[int(np.argmax(spectrum))])


def longest_silence_ms(audio: npt.NDArray[np.float32], floor_dbfs: float = -40) -> float:
    """The longest run of 20 ms frames of a mono recording quieter than ``floor_dbfs`` RMS."""
    from mctui.audio.levels import rms_dbfs

    frames = audio[: audio.size // 960 * 960].reshape(-1, 960)
    longest = run = 0
    for silent in rms_dbfs(frames) < floor_dbfs:
        run = run + 1 if silent else 0
        longest = max(longest, run)
    return longest * 20.0


def tone_levels(audio: npt.NDArray[np.float32], hz: float) -> npt.NDArray[np.float64]:
    """The tone's level in each ``WINDOW_S`` window of a mono recording."""
    size = int(48_000 * WINDOW_S)
    count = audio.size // size
    return np.array([band_level_db(audio[i * size : (i + 1) * size], hz) for i in range(count)])


def back_after(audio: npt.NDArray[np.float32], hz: float, mark_s: float, floor_db: float) -> float:
    """Seconds after ``mark_s`` until the tone is above ``floor_db`` for 1 s straight."""
    levels = tone_levels(audio, hz)
    first = int(mark_s / WINDOW_S)
    run = int(1.0 / WINDOW_S)
    for index in range(first, levels.size - run):
        if (levels[index : index + run] > floor_db).all():
            return (index - first) * WINDOW_S
    raise AssertionError(f"the {hz:g} Hz tone never came back after {mark_s:.1f} s")
