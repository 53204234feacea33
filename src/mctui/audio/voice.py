"""Noise suppression by RNNoise (Xiph's recurrent-network denoiser, 48 kHz native), through the
``pyrnnoise`` package's bundled library when it is installed. ``apm.VoiceProcessor`` runs it
between WebRTC's echo canceller and its gain control (see there for why it is RNNoise).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from mctui.audio.config import Frame

try:  # optional, x86_64 Linux wheels only
    from pyrnnoise import rnnoise as _rnnoise

    _RNNOISE_FRAME: int = int(_rnnoise.FRAME_SIZE)
except (ImportError, OSError):  # pragma: no cover - depends on the machine
    _rnnoise = None
    _RNNOISE_FRAME = 0


def noise_suppression_available() -> bool:
    return _rnnoise is not None


class Denoiser:
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
