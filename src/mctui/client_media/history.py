"""What a room said in the last minute, kept as the Opus packets that arrived, for instant
replay (``Call.replay``).

Every packet the room's transport receives is kept with its arrival time and RTP timestamp,
whether the room is heard or suspended (a suspended room is the point: what was said while you
were elsewhere). Kept compressed, a talker costs 3.6 kB a second (speech with pauses; 8.8 for a
steady tone, measured), so a minute of a busy room is a few hundred kB; older packets go, and a
room never holds more than ``MAX_BYTES``. ``render`` decodes a window with fresh decoders, off
the event loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mctui.audio.config import FRAME_SAMPLES
from mctui.client_media.opus import OpusDecoder

#: How far back a room's history goes.
KEEP_S = 60.0
#: The most one room keeps, whatever its number of talkers (oldest packets go first).
MAX_BYTES = 4 * 1024 * 1024
FRAME_S = FRAME_SAMPLES / 48_000
#: RTP ticks of one 20 ms Opus frame at 48 kHz, and the longest step that continues a run.
TICKS_PER_FRAME = FRAME_SAMPLES
MAX_STEP_TICKS = 50 * TICKS_PER_FRAME


@dataclass(frozen=True, slots=True)
class KeptPacket:
    at: float  # arrival, time.monotonic()
    rtp_timestamp: int
    payload: bytes


class PacketHistory:
    """The last ``KEEP_S`` seconds of one room's received packets, per participant."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._packets: dict[str, deque[KeptPacket]] = {}
        self.bytes_held = 0

    def record(self, participant_id: str, rtp_timestamp: int, payload: bytes) -> None:
        """One packet arrived (a RED repeat of a lost one too: its own timestamp places it)."""
        if not payload:
            return
        now = self._clock()
        packets = self._packets.setdefault(participant_id, deque())
        packets.append(KeptPacket(now, rtp_timestamp, payload))
        self.bytes_held += len(payload)
        self._forget(now)

    def _forget(self, now: float) -> None:
        oldest_kept = now - KEEP_S
        for packets in self._packets.values():
            while packets and packets[0].at < oldest_kept:
                self.bytes_held -= len(packets.popleft().payload)
        while self.bytes_held > MAX_BYTES:
            fullest = max(self._packets.values(), key=len)
            self.bytes_held -= len(fullest.popleft().payload)

    @property
    def seconds_held(self) -> float:
        """How far back the oldest packet kept goes."""
        firsts = [packets[0].at for packets in self._packets.values() if packets]
        return self._clock() - min(firsts) if firsts else 0.0

    def window(self, seconds: float) -> tuple[float, dict[str, list[KeptPacket]]]:
        """The start time and each participant's packets of the last ``seconds`` (a copy:
        ``render`` may then run on another thread)."""
        start = self._clock() - min(seconds, KEEP_S)
        return start, {
            pid: [k for k in packets if k.at >= start] for pid, packets in self._packets.items()
        }


def render(
    start: float, packets: dict[str, list[KeptPacket]], seconds: float, channels: int
) -> npt.NDArray[np.float32]:
    """Decode a ``window`` into ``seconds`` of audio (``(n,)`` or ``(n, 2)`` float32), each
    participant's frames at the times they were said, the participants mixed.

    A participant's packets form runs of continuous RTP timestamps (a new stream or a long
    pause starts another). Within a run each frame goes where its timestamp says, the run placed
    by its least delayed packet, so network jitter neither stretches nor squeezes speech and a
    late RED repeat lands where its frame belongs; a frame that came twice plays once."""
    frames = max(1, round(seconds / FRAME_S))
    shape = (frames * FRAME_SAMPLES,) if channels == 1 else (frames * FRAME_SAMPLES, channels)
    out = np.zeros(shape, dtype=np.float32)
    for kept in packets.values():
        for run in _runs(kept):
            decoder = OpusDecoder(channels)
            try:
                _place_run(out, decoder, start, run, frames)
            finally:
                decoder.close()
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _runs(kept: list[KeptPacket]) -> list[list[KeptPacket]]:
    """``kept`` (in arrival order) split where the RTP timestamps jump."""
    runs: list[list[KeptPacket]] = []
    for packet in kept:
        run = runs[-1] if runs else None
        if run is not None and abs(packet.rtp_timestamp - run[-1].rtp_timestamp) <= MAX_STEP_TICKS:
            run.append(packet)
        else:
            runs.append([packet])
    return runs


def _place_run(
    out: npt.NDArray[np.float32],
    decoder: OpusDecoder,
    start: float,
    run: list[KeptPacket],
    frames: int,
) -> None:
    reference = run[0].rtp_timestamp
    unique = {k.rtp_timestamp: k for k in reversed(run)}  # the first arrival of each frame
    offsets = {ts: (ts - reference) / TICKS_PER_FRAME for ts in unique}
    anchor = min((k.at - start) / FRAME_S - offsets[ts] for ts, k in unique.items())
    for ts in sorted(unique, key=offsets.__getitem__):
        try:
            pcm = decoder.decode(unique[ts].payload)
        except ValueError:
            continue  # a corrupt packet: a gap
        slot = round(anchor + offsets[ts])
        if 0 <= slot < frames:
            begin = slot * FRAME_SAMPLES
            length = min(pcm.shape[0], out.shape[0] - begin)
            out[begin : begin + length] += pcm[:length]
