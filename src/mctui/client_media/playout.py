"""One remote participant's received audio: an adaptive jitter buffer and a concealing decoder,
pulled once per device frame by the call's ADM.

The network side pushes RTP payloads as they arrive; the device side pulls 20 ms frames at its own
clock. A missing packet becomes the Opus decoder's FEC copy (from the next packet) or its packet
loss concealment, never a stall; an idle stream plays silence.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from mctui.audio.config import FRAME_SAMPLES, Frame
from mctui.client_media.jitter import AdaptiveJitterBuffer, Decision, JitterStats
from mctui.client_media.opus import OpusDecoder

#: What a stream decodes to unless told: stereo, ``(960, 2)``.
CHANNELS = 2


def _energy(pcm: Frame) -> float:
    return float(np.dot(pcm.ravel(), pcm.ravel()))


class PlayoutStream:
    """Jitter buffer + Opus decoder for one stream; implements the ADM's ``PlayoutSource``."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, channels: int = CHANNELS
    ) -> None:
        """``channels``: those of the playout that mixes this stream (1: libopus decodes to
        mono at once, so the mix never downmixes 50 frames a second per stream)."""
        self._clock = clock
        self.buffer = AdaptiveJitterBuffer()
        self._decoder = OpusDecoder(channels)
        self._shape: tuple[int, ...] = (0,) if channels == 1 else (0, channels)
        self._carry = np.zeros(self._shape, dtype=np.float32)
        self.first_frame_at: float | None = None

    @property
    def stats(self) -> JitterStats:
        return self.buffer.stats

    def push(self, timestamp: int, payload: bytes, repaired: bool = False) -> None:
        """One RTP payload arrived now (``repaired``: a RED repeat of a lost one)."""
        if payload:
            self.buffer.push(timestamp, payload, self._clock(), repaired)

    def pull(self) -> Frame | None:
        """The next 20 ms (``(960, 2)`` or ``(960,)`` float32), or None while it is idle."""
        pulled = self.buffer.pull(self._clock())
        try:
            if pulled.decision is Decision.SILENCE:
                self._carry = self._carry[:0]
                return None
            skipped = self._decoder.decode(pulled.skip) if pulled.skip else None
            if pulled.decision is Decision.PLAY and pulled.payload:
                pcm = self._decoder.decode(pulled.payload)
                if skipped is not None and _energy(skipped) > _energy(pcm):
                    pcm = skipped  # shrinking drops the quieter of the two frames
            elif pulled.decision is Decision.RECOVER and pulled.payload:
                pcm = self._decoder.recover(pulled.payload, FRAME_SAMPLES)
            else:
                pcm = self._decoder.conceal(FRAME_SAMPLES)
        except ValueError:
            # a corrupt packet: conceal it like a lost one
            self.buffer.stats.concealed += 1
            pcm = self._decoder.conceal(FRAME_SAMPLES)
        if self.first_frame_at is None and pulled.decision is Decision.PLAY:
            self.first_frame_at = self._clock()
        return self._exactly_one_frame(pcm)

    def _exactly_one_frame(self, pcm: Frame) -> Frame:
        """Packets are 20 ms from every sender mctui knows; other sizes go through a carry."""
        if not self._carry.size and pcm.shape[0] == FRAME_SAMPLES:
            return pcm
        joined = np.concatenate([self._carry, pcm]) if self._carry.size else pcm
        if joined.shape[0] < FRAME_SAMPLES:
            pad = np.zeros((FRAME_SAMPLES - joined.shape[0], *self._shape[1:]), dtype=np.float32)
            joined = np.concatenate([joined, pad])
        self._carry = joined[FRAME_SAMPLES:]
        return joined[:FRAME_SAMPLES]

    def close(self) -> None:
        self._decoder.close()
