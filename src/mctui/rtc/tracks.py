"""aiortc tracks: the outgoing capture track of a call, and the SFU's relay slots.

Both are fed by pushing frames into a small bounded queue (oldest dropped when full) and awaited by
aiortc's sender, so their pace is the producer's clock (the audio device, or the publisher's
network stream), never a sleep loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from mctui.audio.config import FRAME_SAMPLES, Frame
from mctui.rtc.frames import TIME_BASE, to_av_frame

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
            raise MediaStreamError
        return await self._queue.get()


class CaptureTrack(_QueueTrack):
    """A call's outgoing microphone track; the ADM pushes each captured frame into it."""

    def push(self, samples: Frame) -> None:
        self._put(to_av_frame(samples, self._pts))
        self._pts += samples.size


class RelayTrack(MediaStreamTrack):  # type: ignore[misc]
    """One receive slot of a subscriber at the SFU: carries one publisher's audio at a time.

    It carries *encoded* Opus packets: the SFU encodes each publisher once and every slot sends the
    same payload, so aiortc's sender only packs it (no per-subscriber encode, no per-frame level
    computation). Each slot stamps packets with its own running pts, so a slot that switches
    publishers keeps a continuous RTP timeline.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.source: str | None = None
        self._queue: asyncio.Queue[av.Packet[Any]] = asyncio.Queue(maxsize=QUEUE_FRAMES)
        self._pts = 0

    def push(self, payload: bytes, samples: int = FRAME_SAMPLES) -> None:
        if self.readyState != "live":
            return
        packet = av.Packet(payload)
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += samples
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()
