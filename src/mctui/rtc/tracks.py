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

#: Frames a track holds for aiortc's sender before the oldest is dropped. A sender that is not
#: sending yet (ICE/DTLS still connecting) must not release a burst of stale audio when it starts:
#: whatever waits here is heard that much later, for as long as the receiver's buffer needs to
#: shrink it away.
QUEUE_FRAMES = 5
RELAY_QUEUE_FRAMES = 3


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
        self._pts += samples.shape[0]  # samples per channel: the RTP clock


class RelayTrack(MediaStreamTrack):  # type: ignore[misc]
    """One receive slot of a subscriber at the SFU: carries one publisher's audio at a time.

    It carries the publisher's Opus packets as they arrive, untouched (no decode, no encode):
    aiortc's sender only packs them. Timestamps keep the publisher's spacing, so a packet lost
    upstream is a gap the subscriber's jitter buffer sees and conceals, and packets reordered
    upstream keep their order. A slot that switches publishers continues its own timeline.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.source: str | None = None
        self._queue: asyncio.Queue[av.Packet[Any]] = asyncio.Queue(maxsize=RELAY_QUEUE_FRAMES)
        self._next_pts = 0
        self._from: tuple[str, int, int] | None = None  # (publisher, its first timestamp, pts)

    def forward(self, publisher: str, timestamp: int, payload: bytes) -> None:
        """Send one of ``publisher``'s packets (its RTP timestamp, its Opus payload)."""
        if self.readyState != "live":
            return
        if self._from is None or self._from[0] != publisher:
            self._from = (publisher, timestamp, self._next_pts)
        _, first, base = self._from
        offset = (timestamp - first) & 0xFFFFFFFF
        if offset >= 0x80000000:
            offset -= 0x100000000
        pts = base + offset
        self._next_pts = max(self._next_pts, pts + FRAME_SAMPLES)
        packet = av.Packet(payload)
        packet.pts = pts
        packet.time_base = TIME_BASE
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()
