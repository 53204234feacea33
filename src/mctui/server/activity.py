"""Speaking activity of every publisher, from the RFC 6464 audio level that senders already put
in each RTP packet's header (aiortc and browsers write it), so the server decodes nothing for it.

Each room's levels are sent to its participants at most every ``INTERVAL_S`` and only when what a
person would see changed (whole dB, speaking on/off), in one ``call.levels`` message per call.
This is what lets a client show who talks in a call it has suspended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mctui import protocol as p
from mctui.audio.levels import FLOOR_DBFS, SpeakingDetector

INTERVAL_S = 0.1
#: A publisher that sent no packet for this long is silent (a muted sender stops sending).
STALE_S = 0.3

#: Send one call's levels to its participants; False when the call has no room any more.
Broadcast = Callable[[str, p.CallLevelsEvent], bool]


@dataclass
class _Publisher:
    level_dbfs: float = FLOOR_DBFS
    detector: SpeakingDetector = field(default_factory=SpeakingDetector)
    last_packet: float = 0.0


@dataclass
class _RoomLevels:
    publishers: dict[str, _Publisher] = field(default_factory=dict)
    sent: dict[str, tuple[int, bool]] = field(default_factory=dict)
    force: bool = True


class ActivityTracker:
    """Levels per (call, publisher), fed per RTP packet, flushed by one task at 10 Hz."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._rooms: dict[str, _RoomLevels] = {}
        self._task: asyncio.Task[None] | None = None

    def on_packet_level(self, cid: str, user_id: str, level_dbov: int) -> None:
        """One RTP packet's audio level (0 = loudest, 127 = silence, as RFC 6464 writes it)."""
        room = self._rooms.setdefault(cid, _RoomLevels())
        publisher = room.publishers.get(user_id)
        if publisher is None:
            publisher = room.publishers[user_id] = _Publisher()
        level = -float(level_dbov) if level_dbov < 127 else FLOOR_DBFS
        publisher.level_dbfs = level
        publisher.detector.update(level)
        publisher.last_packet = time.monotonic()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sfu-activity")

    def resend(self, cid: str) -> None:
        """Send the full state at the next tick (a participant arrived and knows nothing yet)."""
        room = self._rooms.get(cid)
        if room is not None:
            room.force = True

    def remove_publisher(self, cid: str, user_id: str) -> None:
        room = self._rooms.get(cid)
        if room is not None and room.publishers.pop(user_id, None) is not None:
            room.force = True

    def remove_room(self, cid: str) -> None:
        self._rooms.pop(cid, None)

    def flush(self) -> None:
        """Send each room's levels if anything visible changed since the last send."""
        stale = time.monotonic() - STALE_S
        for cid, room in list(self._rooms.items()):
            for pub in room.publishers.values():
                if pub.last_packet < stale and (
                    pub.detector.speaking or pub.level_dbfs > FLOOR_DBFS
                ):
                    pub.level_dbfs = FLOOR_DBFS
                    pub.detector = SpeakingDetector()
            now = {
                user_id: (round(pub.level_dbfs), pub.detector.speaking)
                for user_id, pub in room.publishers.items()
            }
            if now == room.sent and not room.force:
                continue
            room.sent = now
            room.force = False
            delivered = self._broadcast(
                cid,
                p.CallLevelsEvent(
                    cid=cid,
                    levels={
                        user_id: p.ParticipantActivity(level_dbfs=level, speaking=speaking)
                        for user_id, (level, speaking) in now.items()
                    },
                ),
            )
            if not delivered:
                del self._rooms[cid]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_S)
            self.flush()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._rooms.clear()
