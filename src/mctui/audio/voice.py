"""The broadcaster's voice chain: high-pass, noise suppression, automatic gain control.

- High-pass: 2nd-order Butterworth at 90 Hz (scipy ``sosfilt`` with carried state): removes rumble
  and desk thumps below the voice band.
- Noise suppression: RNNoise (Xiph's recurrent-network denoiser, 48 kHz native) through the
  ``pyrnnoise`` package's bundled library when it is installed; without it the chain runs without
  suppression and says so in ``ns_available``.
- Gain control: follows the speech level (fast attack, slow release) towards -20 dBFS RMS, at most
  +/-18 dB, with the gain ramped across each frame so it never clicks; silence is not amplified.

Viewer and hifi configurations bypass all of it.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE, Frame

try:  # optional, x86_64 Linux wheels only
    from pyrnnoise import rnnoise as _rnnoise

    _RNNOISE_FRAME: int = int(_rnnoise.FRAME_SIZE)
except (ImportError, OSError):  # pragma: no cover - depends on the machine
    _rnnoise = None
    _RNNOISE_FRAME = 0

TARGET_DBFS = -20.0
MAX_GAIN_DB = 18.0
GATE_DBFS = -50.0


def noise_suppression_available() -> bool:
    return _rnnoise is not None


class _Denoiser:
    """RNNoise on float32 frames (RNNoise wants 480-sample frames in int16 scale)."""

    def __init__(self) -> None:
        assert _rnnoise is not None
        self._state: Any = _rnnoise.create()
        self._buf = np.zeros(_RNNOISE_FRAME, dtype=np.float32)
        self._ptr = self._buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self.speech_probability = 0.0

    def process(self, frame: Frame) -> Frame:
        out = np.empty_like(frame)
        for start in range(0, frame.size, _RNNOISE_FRAME):
            chunk = frame[start : start + _RNNOISE_FRAME]
            self._buf[: chunk.size] = chunk * 32768.0
            self._buf[chunk.size :] = 0.0
            self.speech_probability = float(
                _rnnoise.lib.rnnoise_process_frame(self._state, self._ptr, self._ptr)  # type: ignore[union-attr]
            )
            out[start : start + chunk.size] = self._buf[: chunk.size] / 32768.0
        return out

    def close(self) -> None:
        if self._state is not None and _rnnoise is not None:
            _rnnoise.destroy(self._state)
            self._state = None


class VoiceChain:
    """Stateful per call: each call's microphone path keeps its own filter and gain state."""

    def __init__(self, noise_suppression: bool = True) -> None:
        self._sos = butter(2, 90.0, btype="highpass", fs=SAMPLE_RATE, output="sos")
        self._zi = sosfilt_zi(self._sos) * 0.0
        self._denoiser = _Denoiser() if noise_suppression and _rnnoise is not None else None
        self._gain_db = 0.0
        self._level_db = TARGET_DBFS
        self._ramp = np.linspace(0.0, 1.0, FRAME_SAMPLES, dtype=np.float32)

    @property
    def ns_available(self) -> bool:
        return self._denoiser is not None

    @property
    def gain_db(self) -> float:
        return self._gain_db

    def process(self, frame: Frame) -> Frame:
        filtered, self._zi = sosfilt(self._sos, frame, zi=self._zi)
        voice = np.asarray(filtered, dtype=np.float32)
        if self._denoiser is not None:
            voice = self._denoiser.process(voice)
        return self._agc(voice)

    def _agc(self, frame: Frame) -> Frame:
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
        level = 20.0 * np.log10(max(rms, 1e-9))
        if level > GATE_DBFS:  # only speech moves the gain; silence keeps it
            coeff = 0.5 if level > self._level_db else 0.05  # fast attack, slow release
            self._level_db += coeff * (level - self._level_db)
        wanted = float(np.clip(TARGET_DBFS - self._level_db, -MAX_GAIN_DB, MAX_GAIN_DB))
        start = 10.0 ** (self._gain_db / 20.0)
        end = 10.0 ** (wanted / 20.0)
        self._gain_db = wanted
        gains = start + (end - start) * self._ramp[: frame.size]
        out: Frame = np.clip(frame * gains, -1.0, 1.0).astype(np.float32)
        return out

    def close(self) -> None:
        if self._denoiser is not None:
            self._denoiser.close()
