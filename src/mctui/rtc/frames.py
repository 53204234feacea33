"""Converting between aiortc's ``av.AudioFrame`` and mctui's float32 numpy frames."""

from __future__ import annotations

import fractions
from typing import cast

import av
import numpy as np

from mctui.audio.config import SAMPLE_RATE, Frame

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_INT16_SCALE = np.float32(1.0 / 32768.0)


def to_av_frame(samples: Frame, pts: int) -> av.AudioFrame:
    """One mono float32 frame -> an s16 packed *stereo* ``av.AudioFrame`` stamped with ``pts``.

    aiortc's Opus encoder works in stereo; handing it mono makes FFmpeg upmix with a -3 dB
    centre level, so every participant would sound 3 dB quieter than they are. L = R avoids it.
    """
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    # a stereo frame (960, 2) flattens row by row: already interleaved L, R
    stereo = pcm.reshape(1, -1) if pcm.ndim == 2 else np.repeat(pcm, 2).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


def from_av_frame(frame: av.AudioFrame) -> Frame:
    """A received frame (aiortc decodes Opus to s16 packed stereo) -> float32 ``(n, 2)``
    (or ``(n,)`` for a mono frame); the call's ADM keeps or downmixes the channels.

    One ``np.frombuffer`` with an explicit count (the plane may be padded).
    """
    channels = len(frame.layout.channels)
    count = frame.samples * channels
    if frame.format.name == "s16":
        plane = cast(bytes, frame.planes[0])  # AudioPlane supports the buffer protocol
        pcm = np.frombuffer(plane, dtype=np.int16, count=count)
        shaped = pcm.reshape(-1, channels) if channels > 1 else pcm
        return shaped.astype(np.float32) * _INT16_SCALE
    data = frame.to_ndarray().astype(np.float32)  # other formats: rare, not the hot path
    if frame.format.name.startswith("s16"):
        data *= _INT16_SCALE
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    return np.ascontiguousarray(data[:, 0] if channels == 1 else data)
