"""aiortc tracks: the outgoing capture track of a call, and the SFU's relay slots.

Both are fed by pushing frames into a small bounded queue (oldest dropped when full) and awaited by
aiortc's sender, so their pace is the producer's clock (the audio device, or the publisher's
network stream), never a sleep loop.
"""

from __future__ import annotations

import asyncio

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack

from mctui.audio.config import SAMPLE_RATE
from mctui.rtc.frames import TIME_BASE, Frame, to_av_frame

QUEUE_FRAMES = 10


class _QueueTrack(MediaStreamTrack):  # type: ignore[misc]
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[av.AudioFrame] = asyncio.Queue(maxsize=QUEUE_FRAMES)
        self._pts = 0

    def _put(self, frame: av.AudioFrame) -> None:
        if self.readyState != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError
        return await self._queue.get()


class CaptureTrack(_QueueTrack):
    """A call's outgoing microphone track; the ADM pushes each captured frame into it."""

    def push(self, samples: Frame) -> None:
        self._put(to_av_frame(samples, self._pts))
        self._pts += samples.size


class RelayTrack(_QueueTrack):
    """One receive slot of a subscriber at the SFU: carries one publisher's audio at a time.

    Each slot builds its own frame from the shared packed PCM and stamps it with its own running
    pts, so a slot that switches publishers keeps a continuous timeline for its encoder.
    """

    def __init__(self) -> None:
        super().__init__()
        self.source: str | None = None

    def push(self, pcm: npt.NDArray[np.int16], layout: str, samples: int) -> None:
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += samples
        self._put(frame)
