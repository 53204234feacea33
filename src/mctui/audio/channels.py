"""Mono and stereo frames: one 20 ms frame is ``(960,)`` (mono) or ``(960, 2)`` (stereo)."""

from __future__ import annotations

import numpy as np

from mctui.audio.config import Frame


def to_mono(frame: Frame) -> Frame:
    if frame.ndim == 1:
        return frame
    out: Frame = frame.mean(axis=1, dtype=np.float32)
    return out


def to_stereo(frame: Frame) -> Frame:
    if frame.ndim == 2:
        return frame
    out: Frame = np.repeat(frame[:, None], 2, axis=1)
    return out


def fit_channels(frame: Frame, channels: int) -> Frame:
    """The frame with ``channels`` channels (downmix by mean, upmix by copying)."""
    return to_mono(frame) if channels == 1 else to_stereo(frame)
