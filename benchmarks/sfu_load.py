"""Helper process for the SFU benchmark: light participants that cost their machine little.

A real client encodes its microphone and decodes every participant it hears; on a 2-core machine
a room of such clients saturates the clients long before the SFU. These participants speak the
real protocol and run real WebRTC connections (ICE, DTLS, SRTP) but send one pre-encoded Opus
packet every 20 ms (aiortc packs it, nothing encodes) and only *count* what they receive per
publisher (nothing decodes). What the SFU does for them is what it does for anyone, except that
their packets carry no RFC 6464 level (aiortc adds it only when it encodes), so the SFU's
speaking-activity bookkeeping is not exercised.

Usage: ``python sfu_load.py URL ROOM FIRST COUNT SLOTS``: participants ``load{FIRST}`` ..., each
with SLOTS receive slots; prints ``LOAD READY``, then on each line read from stdin prints a JSON
object: per participant, packets received per publisher since the last line.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import sys
from collections import Counter
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCSessionDescription
from common import SECRET

from mctui import protocol as p
from mctui.engine.signaling import WebSocketSignaling
from mctui.network import NetworkPolicy
from mctui.rtc.peer import close_peer_connection, new_peer_connection, take_audio_packets
from mctui.server.tokens import issue_token

TIME_BASE = fractions.Fraction(1, 48_000)


def opus_packets(count: int = 50, speech: bool = False) -> list[bytes]:
    """``count`` 20 ms Opus packets of a 440 Hz tone (encoded once, replayed).

    ``speech``: the tone rises and falls as syllables do (3 a second) and pauses for the last
    quarter, so a listener's meters and speaking marks move as they do for a talker.
    """
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48_000, "stereo", "s16"
    codec.bit_rate = 32_000
    t = np.arange(960 * count) / 48_000
    envelope = np.ones_like(t)
    if speech:
        envelope = 0.5 * (1 - np.cos(2 * np.pi * 3 * t)) * (t < 0.75 * t[-1])
    pcm = (0.3 * 32767 * envelope * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    out: list[bytes] = []
    for i in range(count):
        chunk = np.repeat(pcm[i * 960 : (i + 1) * 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48_000, i * 960
        out.extend(bytes(packet) for packet in codec.encode(frame))
    return out


class PacketTrack(MediaStreamTrack):  # type: ignore[misc]
    """Replays pre-encoded Opus packets at 50 per second."""

    kind = "audio"

    def __init__(self, payloads: list[bytes]) -> None:
        super().__init__()
        self._payloads = payloads
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._index * 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))
        packet = av.Packet(self._payloads[self._index % len(self._payloads)])
        packet.pts, packet.time_base = self._index * 960, TIME_BASE
        self._index += 1
        return packet


class LoadParticipant:
    def __init__(self, url: str, user: str, room: str, payloads: list[bytes]) -> None:
        self.url, self.user, self.room, self.payloads = url, user, room, payloads
        self.counts: Counter[str] = Counter()
        self.owners: dict[str, str] = {}
        self.signaling = WebSocketSignaling(url)
        self.pcs: list[Any] = []
        self.cid = ""
        self.network = NetworkPolicy()
        self.subscriber: Any = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, slots: int) -> None:
        sig = self.signaling
        sig.set_event_handler(self._on_event)
        await sig.open(issue_token(SECRET, self.user))
        join = await sig.request(p.JoinCallRequest, call_type="default", call_id=self.room)
        self.cid = join.call.cid
        # toward the media server (a Janus elsewhere), else loopback as the coordinator
        self.network = (
            NetworkPolicy.toward(join.sfu.media_host) if join.sfu.media_host else NetworkPolicy()
        )
        publisher = new_peer_connection(self.network)
        publisher.addTransceiver(PacketTrack(self.payloads), direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        answer = await sig.request(
            p.SfuSignalRequest, cid=self.cid, role="publisher",
            sdp=publisher.localDescription.sdp,
        )  # fmt: skip
        await publisher.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        self.pcs = [publisher]
        if join.sfu.kind == "janus":  # Janus offers the subscriber connection: answer it
            offer = await sig.request(p.SfuSubscribeRequest, cid=self.cid)
            if offer.sdp is not None:
                await self._answer(offer.sdp, offer.track_owners)
            return
        subscriber = new_peer_connection(self.network)
        for _ in range(slots):
            subscriber.addTransceiver("audio", direction="recvonly")
        await subscriber.setLocalDescription(await subscriber.createOffer())
        answer = await sig.request(
            p.SfuSignalRequest, cid=self.cid, role="subscriber",
            sdp=subscriber.localDescription.sdp,
        )  # fmt: skip
        self.owners = dict(answer.track_owners)
        await subscriber.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        take_audio_packets(subscriber, self._count)
        self.pcs.append(subscriber)

    async def _answer(self, sdp: str, owners: dict[str, str]) -> None:
        async with self._lock:
            if self.subscriber is None:
                self.subscriber = new_peer_connection(self.network)
                self.pcs.append(self.subscriber)
            pc = self.subscriber
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            take_audio_packets(pc, self._count)
            await pc.setLocalDescription(await pc.createAnswer())
            self.owners = dict(owners)
            await self.signaling.request(
                p.SfuSignalRequest, cid=self.cid, role="subscriber",
                sdp=pc.localDescription.sdp, sdp_type="answer",
            )  # fmt: skip

    def _on_event(self, event: Any) -> None:
        if isinstance(event, p.SfuTracksEvent):
            self.owners = dict(event.track_owners)
        elif isinstance(event, p.SfuOfferEvent):
            task = asyncio.get_running_loop().create_task(
                self._answer(event.sdp, event.track_owners)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _count(self, transceiver: Any, packet: Any) -> None:
        owner = self.owners.get(transceiver.mid or "")
        if owner is not None:
            self.counts[owner] += 1

    def take_counts(self) -> dict[str, int]:
        counts, self.counts = dict(self.counts), Counter()
        return counts

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pc in self.pcs:
            await close_peer_connection(pc)
        await self.signaling.close()


async def main(url: str, room: str, first: int, count: int, slots: int) -> None:
    payloads = opus_packets()
    people = [LoadParticipant(url, f"load{first + i}", room, payloads) for i in range(count)]
    for person in people:
        await person.start(slots)
    print("LOAD READY", flush=True)
    loop = asyncio.get_running_loop()
    while (line := await loop.run_in_executor(None, sys.stdin.readline)) and line.strip():
        print(json.dumps({x.user: x.take_counts() for x in people}), flush=True)
    for person in people:
        await person.stop()


if __name__ == "__main__":
    url, room, first, count, slots = sys.argv[1:6]
    asyncio.run(main(url, room, int(first), int(count), int(slots)))
