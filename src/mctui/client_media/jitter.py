"""An adaptive jitter buffer for one audio stream, pulled by the audio device's clock.

aiortc's own buffer orders packets by sequence number and waits at a missing one until 16 more have
arrived: on a lossy link the audio stalls for hundreds of milliseconds at each loss. This one is
driven from the other end: every device frame the playout asks "what do I play now?", and the
buffer answers with one of four decisions:

- ``PLAY`` the packet due now;
- ``RECOVER`` it is missing but the one after it is here: decode that packet's in-band FEC copy
  (libopus conceals when there is none);
- ``CONCEAL`` it is missing: packet loss concealment;
- ``SILENCE`` the stream is idle (nothing arrived for a while, a muted sender stops sending).

How long a missing packet is waited for follows the measured network: every packet's transit time
(arrival minus its RTP timestamp) is kept for the last few seconds, and the look-ahead target is
enough 20 ms frames to cover the 95th percentile of the transit above the fastest one. A clean path
needs 1 frame. When the buffer runs dry the playout stretches (one concealed frame, no advance), so
a delay spike grows the buffer at once; when it holds more than the target for a whole second it
drops one frame, so it shrinks slowly.

Timestamps are RTP timestamps at 48 kHz; the stream is keyed by them, not by sequence numbers, so
an SFU that forwards a publisher's packets with gaps (lost upstream) is handled the same way.
"""

from __future__ import annotations

import bisect
import enum
from collections import deque
from dataclasses import dataclass, field

CLOCK_RATE = 48_000
FRAME_TICKS = 960
FRAME_S = FRAME_TICKS / CLOCK_RATE
#: Transit times kept for the 95th percentile (4 s of 20 ms packets).
WINDOW_PACKETS = 200
#: Transit above the fastest packet that still counts as "on time" (scheduling noise).
SLACK_S = 0.004
#: The target never grows past this many frames (a path worse than that is not a call).
MAX_TARGET_FRAMES = 15
#: Device frames between two shrink steps, and to look back on before one.
SHRINK_EVERY = 50
#: No packet for this long and the stream is idle: it plays silence, not concealment.
IDLE_S = 0.3
#: More than this many frames waiting at the first pull is a stale backlog, not a buffer.
STARTUP_BACKLOG_FRAMES = 2
#: No packet for this long means the sender paused: the next one starts a new talkspurt.
TALKSPURT_GAP_S = 0.25
#: A packet this far from the playout position restarts the stream (a new source, a long gap).
RESYNC_TICKS = 2 * CLOCK_RATE


class Decision(enum.Enum):
    PLAY = "play"
    RECOVER = "recover"
    CONCEAL = "conceal"
    SILENCE = "silence"


@dataclass
class Pulled:
    """What to play for one device frame; ``payload`` is the packet to decode (PLAY) or the next
    one, whose FEC copy stands in (RECOVER). ``skip`` is a packet to decode and discard first
    (the buffer shrinking by one frame keeps the decoder's state continuous)."""

    decision: Decision
    payload: bytes | None = None
    skip: bytes | None = None


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    concealed: int = 0
    late: int = 0
    repaired: int = 0
    duplicates: int = 0
    shrinks: int = 0
    stretches: int = 0


@dataclass
class AdaptiveJitterBuffer:
    """One stream's packets by timestamp, and the decision of what plays next."""

    stats: JitterStats = field(default_factory=JitterStats)
    _packets: dict[int, bytes] = field(default_factory=dict)
    _next: int | None = None
    _newest: int | None = None
    _origin: int | None = None
    _last_unwrapped: int = 0
    _transits: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW_PACKETS))
    _sorted: list[float] = field(default_factory=list)
    _transit_p95: float = 0.0
    _margins: deque[int] = field(default_factory=lambda: deque(maxlen=SHRINK_EVERY))
    _late: deque[bool] = field(default_factory=lambda: deque(maxlen=SHRINK_EVERY))
    _since_shrink: int = 0
    _last_arrival: float | None = None
    target_frames: int = 1

    # --- arrivals -----------------------------------------------------------------------------

    def _unwrap(self, timestamp: int) -> int:
        if self._origin is None:
            self._origin = timestamp
            self._last_unwrapped = 0
            return 0
        delta = (timestamp - self._origin - self._last_unwrapped) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        self._last_unwrapped += delta
        return self._last_unwrapped

    def push(
        self, timestamp: int, payload: bytes, arrival_s: float, repaired: bool = False
    ) -> None:
        """One packet arrived (``arrival_s`` on a monotonic clock); ``repaired``: it is a RED
        repeat standing in for a lost packet."""
        quiet = self._last_arrival is not None and arrival_s - self._last_arrival > TALKSPURT_GAP_S
        self._last_arrival = arrival_s
        ticks = self._unwrap(timestamp)
        far = self._next is not None and abs(ticks - self._next) > RESYNC_TICKS
        if far or (quiet and not self._packets):
            # a new source, or the first packet after the sender paused (its timestamps need not
            # account for the pause): start over rather than read the pause as network delay
            self._restart()
            ticks = self._unwrap(timestamp)
        self._observe_transit(arrival_s - ticks / CLOCK_RATE)
        if self._next is not None and ticks < self._next:
            self.stats.late += 1
            self._late.append(True)
            return
        self._late.append(False)
        if ticks in self._packets:
            self.stats.duplicates += 1
            return
        self.stats.received += 1
        self.stats.repaired += repaired
        if self._next is not None:
            self._margins.append((ticks - self._next) // FRAME_TICKS)
        self._packets[ticks] = payload
        if self._newest is None or ticks > self._newest:
            self._newest = ticks

    def _restart(self) -> None:
        self._packets.clear()
        self._next = self._newest = self._origin = None
        self._transits.clear()
        self._sorted.clear()
        self._margins.clear()
        self._late.clear()

    def _observe_transit(self, transit: float) -> None:
        if len(self._transits) == self._transits.maxlen:
            old = self._transits[0]
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._transits.append(transit)
        bisect.insort(self._sorted, transit)
        fastest = self._sorted[0]
        p95 = self._transit_p95 = self._sorted[
            min(len(self._sorted) - 1, int(0.95 * len(self._sorted)))
        ]
        spread = max(0.0, p95 - fastest - SLACK_S)
        extra = -int(-spread // FRAME_S)  # ceil
        self.target_frames = min(MAX_TARGET_FRAMES, 1 + extra)

    # --- playout ------------------------------------------------------------------------------

    @property
    def level_frames(self) -> int:
        """Frames from the playout position to the newest arrival, holes included."""
        if self._next is None or self._newest is None:
            return 0
        return max(0, (self._newest - self._next) // FRAME_TICKS + 1)

    def _latest_expected(self, ticks: int) -> float:
        """When the packet at ``ticks`` would arrive at the latest, at the 95th percentile of the
        transit times seen."""
        if not self._sorted:
            return float("inf")
        return ticks / CLOCK_RATE + self._transit_p95 + SLACK_S

    def pull(self, now: float) -> Pulled:
        """The decision for the device frame being played at ``now`` (the arrivals' clock)."""
        if self._next is None:
            if not self._packets:
                return Pulled(Decision.SILENCE)
            self._next = self._start()
        level = self.level_frames
        self._since_shrink += 1
        payload = self._packets.pop(self._next, None)
        if payload is not None:
            skip = None
            if self._should_shrink():
                following = self._packets.pop(self._next + FRAME_TICKS, None)
                if following is not None:
                    skip, payload = payload, following
                    self._next += FRAME_TICKS
                    self.stats.shrinks += 1
            self._next += FRAME_TICKS
            self.stats.played += 1
            return Pulled(Decision.PLAY, payload, skip)
        if level <= 1:
            # nothing newer has arrived. A sender silent for a while is quiet: silence. If the
            # path's slowest usual packet would be here by now, this one is lost: conceal it and
            # move on, but never more than one frame past the newest arrival. Otherwise stretch
            # (conceal without moving on) so it still finds its place when it comes.
            if self._last_arrival is None or now - self._last_arrival > IDLE_S:
                return Pulled(Decision.SILENCE)
            assert self._newest is not None
            if now < self._latest_expected(self._next) or self._next > self._newest + FRAME_TICKS:
                return self._stretch()
            self._next += FRAME_TICKS
            self.stats.concealed += 1
            return Pulled(Decision.CONCEAL)
        if self._too_many_late():
            return self._stretch()
        # newer packets are here: this one is lost (or will be late); conceal it and move on
        self._next += FRAME_TICKS
        self.stats.concealed += 1
        after = self._packets.get(self._next)
        if after is not None:
            return Pulled(Decision.RECOVER, after)
        return Pulled(Decision.CONCEAL)

    def _stretch(self) -> Pulled:
        self.stats.stretches += 1
        self.stats.concealed += 1
        return Pulled(Decision.CONCEAL)

    def _too_many_late(self) -> bool:
        """More than 5 % of the last second's packets came after their turn: wait one frame
        longer from now on (the buffer grows by the stretch)."""
        if len(self._late) < SHRINK_EVERY // 2 or sum(self._late) * 20 <= len(self._late):
            return False
        self._late.clear()
        self._margins.clear()
        return True

    def _start(self) -> int:
        """Begin playing. A backlog that arrived in a burst (a sender that queued while its
        connection came up) is old audio: start one frame before the newest instead, and forget
        the burst's transit times, which would read as network jitter."""
        assert self._newest is not None
        oldest = min(self._packets)
        if (self._newest - oldest) // FRAME_TICKS + 1 > STARTUP_BACKLOG_FRAMES:
            oldest = self._newest - FRAME_TICKS
            for ticks in [t for t in self._packets if t < oldest]:
                del self._packets[ticks]
            self._transits.clear()
            self._sorted.clear()
        return oldest

    def _should_shrink(self) -> bool:
        """True when 95 % of the packets of the last second arrived a whole frame or more before
        they were needed: playing one frame sooner would still have them on time. One frame a
        second at most, so the buffer shrinks slowly."""
        if self._since_shrink < SHRINK_EVERY or len(self._margins) < SHRINK_EVERY // 2:
            return False
        ordered = sorted(self._margins)
        if ordered[len(ordered) // 20] < 1:
            return False
        self._since_shrink = 0
        self._margins.clear()
        return True
