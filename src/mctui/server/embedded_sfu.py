"""The embedded SFU: aiortc inside the server process.

Per participant and call: one *publisher* connection (the client sends its microphone) and one
*subscriber* connection (the SFU sends every other publisher's audio, each as its own track, so the
client can meter each participant). The client always offers; the SFU answers. Subscriber "slots"
(transceivers) are reused when publishers come and go; when a subscriber needs more, the SFU says so
with an ``sfu.tracks`` event and the client re-offers with more receive slots.

Each publisher's RTP packets are taken as they arrive (``take_audio_packets``): their RFC 6464
level feeds the speaking activity, and their Opus payload is copied into the relay track of each
subscriber slot that carries that publisher. Nothing is decoded or encoded: a packet lost on the way
in stays a gap that each subscriber's jitter buffer conceals, and the CPU cost per publisher is a
copy per subscriber.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import ClassVar

from aiortc import MediaStreamTrack, RTCSessionDescription
from aiortc.exceptions import InvalidStateError as AiortcInvalidStateError
from aiortc.rtp import RtpPacket

from mctui import protocol as p
from mctui.errors import BadRequestError, InvalidStateError, PermissionDeniedError
from mctui.network import NetworkPolicy
from mctui.protocol import SfuKindName
from mctui.rtc.offer_rules import check_offer
from mctui.rtc.peer import (
    PolicyPeerConnection,
    RepairedPacket,
    add_remote_candidate,
    announce_sdp,
    close_peer_connection,
    new_peer_connection,
    packet_audio_level,
    take_audio_packets,
)
from mctui.rtc.tracks import RelayTrack
from mctui.server.activity import ActivityTracker
from mctui.server.coordinator import CallRecord, Session

log = logging.getLogger(__name__)

#: How aiortc says an SDP is malformed (it has no error type of its own for it).
_BAD_SDP = (ValueError, AttributeError, AssertionError, KeyError, TypeError, IndexError)


@dataclass(eq=False)
class SfuPeer:
    """One participant's connections in one room."""

    session: Session
    user_id: str
    publisher: PolicyPeerConnection | None = None
    publishing: bool = False
    subscriber: PolicyPeerConnection | None = None
    slots: dict[str, RelayTrack] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def owners(self) -> dict[str, str]:
        return {mid: t.source for mid, t in self.slots.items() if t.source is not None}


@dataclass
class SfuRoom:
    cid: str
    peers: dict[int, SfuPeer] = field(default_factory=dict)


class EmbeddedSfu:
    """An aiortc SFU living in the coordinator's process and loop."""

    kind: ClassVar[SfuKindName] = "embedded"

    def __init__(self, network: NetworkPolicy | None = None) -> None:
        #: Which address the SFU's connections offer (``--host``), advertise (``--announce``)
        #: and which ICE servers they ask.
        self.network = network or NetworkPolicy()
        self.rooms: dict[str, SfuRoom] = {}
        self.frames_forwarded = 0
        #: Frames a publisher's RED repeats brought back after a loss on the way in.
        self.frames_repaired = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.activity = ActivityTracker(self._broadcast)

    def _broadcast(self, cid: str, event: p.CallLevelsEvent) -> bool:
        room = self.rooms.get(cid)
        if room is None:
            return False
        for peer in room.peers.values():
            peer.session.send(event)
        return True

    def info_for(self, call: CallRecord) -> p.SfuInfo:
        return p.SfuInfo(kind=self.kind, room=call.cid)

    async def signal(
        self, session: Session, call: CallRecord, request: p.SfuSignalRequest
    ) -> p.SfuAnswer:
        if request.sdp_type != "offer":
            raise BadRequestError("the embedded SFU only takes offers from clients")
        if not request.sdp.startswith("v=0") or "\nm=audio " not in request.sdp:
            raise BadRequestError(
                f"the {request.role} offer is not an SDP with an audio section (m=audio)"
            )
        participant = call.participants[session.key]
        if request.role == p.SfuRole.PUBLISHER and not call.can_publish(participant.role):
            raise PermissionDeniedError(
                f"a {participant.role} cannot publish audio in a {call.type} call"
            )
        try:
            check_offer(request.sdp)
        except ValueError as exc:
            raise BadRequestError(f"the {request.role} offer cannot be used: {exc}") from None
        room = self.rooms.setdefault(call.cid, SfuRoom(call.cid))
        peer = room.peers.get(session.key)
        if peer is None:
            peer = SfuPeer(session=session, user_id=participant.user.id)
            room.peers[session.key] = peer
            self.activity.resend(call.cid)
        async with peer.lock:
            if request.restart:
                await self._drop_connection(room, peer, request.role)
            try:
                if request.role == p.SfuRole.PUBLISHER:
                    return await self._publisher_offer(room, peer, request.sdp, request.trickle)
                return await self._subscriber_offer(room, peer, request.sdp, request.trickle)
            except AiortcInvalidStateError as exc:
                # the call ended, or this participant left, while aiortc was at it
                raise InvalidStateError(
                    f"the {request.role} connection closed while it was negotiated ({exc})"
                ) from exc
            except (
                ValueError,
                AttributeError,
                AssertionError,
                KeyError,
                TypeError,
                IndexError,
            ) as exc:
                # aiortc's ways of saying the SDP is malformed: the sender's fault, and no
                # connection that never negotiated is left half-open
                await self._drop_unnegotiated(peer, request.role)
                raise BadRequestError(
                    f"the SFU could not use that {request.role} SDP ({type(exc).__name__}: {exc})"
                ) from exc

    async def _drop_unnegotiated(self, peer: SfuPeer, role: p.SfuRole) -> None:
        pc = peer.publisher if role == p.SfuRole.PUBLISHER else peer.subscriber
        if pc is None or (pc.remoteDescription is not None and pc.localDescription is not None):
            return
        if role == p.SfuRole.PUBLISHER:
            peer.publisher = None
        else:
            peer.subscriber = None
            for relay in peer.slots.values():
                relay.stop()
            peer.slots.clear()
        await close_peer_connection(pc)

    async def _drop_connection(self, room: SfuRoom, peer: SfuPeer, role: p.SfuRole) -> None:
        """The client starts ``role``'s connection afresh (its old one failed): close ours. A
        publisher keeps its place in the others' slots, so they see no change but the gap."""
        if role == p.SfuRole.PUBLISHER:
            pc, peer.publisher = peer.publisher, None
        else:
            pc, peer.subscriber = peer.subscriber, None
            for relay in peer.slots.values():
                relay.stop()
            peer.slots.clear()
        if pc is not None:
            await close_peer_connection(pc)

    async def subscribe(self, session: Session, call: CallRecord) -> p.SfuOffer:
        raise BadRequestError("the embedded SFU takes the subscriber's offer: send sfu_signal")

    def session_replaced(self, old: Session, new: Session, call: CallRecord) -> None:
        room = self.rooms.get(call.cid)
        peer = room.peers.pop(old.key, None) if room is not None else None
        if room is None or peer is None:
            return
        peer.session = new
        room.peers[new.key] = peer
        # what changed while the client was away reaches it now (its slots may be stale)
        if peer.subscriber is not None:
            needed = self._assign_slots(room, peer)
            new.send(
                p.SfuTracksEvent(cid=room.cid, track_owners=peer.owners(), slots_needed=needed)
            )
        self.activity.resend(call.cid)

    def _new_pc(
        self, peer: SfuPeer, cid: str, role: p.SfuRole, trickle: bool
    ) -> PolicyPeerConnection:
        """A connection on the SFU's network; it trickles its STUN candidates to a client that
        asked for trickle (with no STUN server there is nothing late to send)."""
        pc = new_peer_connection(self.network, trickle=trickle and self.network.trickles, red=True)
        if pc.trickle:
            task = asyncio.get_running_loop().create_task(
                self._send_trickled(peer, cid, role, pc), name=f"sfu-trickle-{role}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return pc

    async def _send_trickled(
        self, peer: SfuPeer, cid: str, role: p.SfuRole, pc: PolicyPeerConnection
    ) -> None:
        while True:
            candidate = await pc.trickled.get()
            mid = next((t.mid for t in pc.getTransceivers() if t.mid is not None), None)
            peer.session.send(
                p.SfuCandidateEvent(cid=cid, role=role, candidate=candidate, sdp_mid=mid)
            )
            if candidate is None:
                return

    async def add_candidate(
        self, session: Session, call: CallRecord, request: p.SfuCandidateRequest
    ) -> None:
        room = self.rooms.get(call.cid)
        peer = room.peers.get(session.key) if room is not None else None
        pc = None
        if peer is not None:
            pc = peer.publisher if request.role == p.SfuRole.PUBLISHER else peer.subscriber
        if pc is None or pc.remoteDescription is None:
            raise BadRequestError(f"send the {request.role} offer before its candidates")
        try:
            await add_remote_candidate(pc, request.candidate, request.sdp_mid)
        except ValueError as exc:
            raise BadRequestError(str(exc)) from exc

    async def _publisher_offer(
        self, room: SfuRoom, peer: SfuPeer, sdp: str, trickle: bool
    ) -> p.SfuAnswer:
        pc = peer.publisher
        if pc is None:
            pc = self._new_pc(peer, room.cid, p.SfuRole.PUBLISHER, trickle)
            peer.publisher = pc

            @pc.on("track")  # type: ignore[untyped-decorator]
            def on_track(track: MediaStreamTrack) -> None:
                if track.kind == "audio" and not peer.publishing:
                    peer.publishing = True
                    self._publishers_changed(room, exclude=peer)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        take_audio_packets(pc, lambda _t, packet: self._forward(room, peer, packet))
        await pc.setLocalDescription(await pc.createAnswer())
        return p.SfuAnswer(sdp=self._answer_sdp(pc))

    async def _subscriber_offer(
        self, room: SfuRoom, peer: SfuPeer, sdp: str, trickle: bool
    ) -> p.SfuAnswer:
        pc = peer.subscriber
        if pc is None:
            pc = self._new_pc(peer, room.cid, p.SfuRole.SUBSCRIBER, trickle)
            peer.subscriber = pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid
            if transceiver.kind == "audio" and mid is not None and mid not in peer.slots:
                relay = RelayTrack()
                transceiver.sender.replaceTrack(relay)
                transceiver.direction = "sendonly"
                peer.slots[mid] = relay
        self._assign_slots(room, peer)
        await pc.setLocalDescription(await pc.createAnswer())
        return p.SfuAnswer(sdp=self._answer_sdp(pc), track_owners=peer.owners())

    def _answer_sdp(self, pc: PolicyPeerConnection) -> str:
        return announce_sdp(pc.local_sdp(), self.network.announce)

    def _publishers_for(self, room: SfuRoom, peer: SfuPeer) -> list[str]:
        return list(
            dict.fromkeys(
                o.user_id
                for o in room.peers.values()
                if o is not peer and o.publishing and o.user_id != peer.user_id
            )
        )

    def _assign_slots(self, room: SfuRoom, peer: SfuPeer) -> int:
        """Point ``peer``'s slots at the current publishers; returns how many slots it needs."""
        publishers = self._publishers_for(room, peer)
        for relay in peer.slots.values():
            if relay.source is not None and relay.source not in publishers:
                relay.source = None
        carried = {r.source for r in peer.slots.values()}
        free = [r for r in peer.slots.values() if r.source is None]
        for publisher in publishers:
            if publisher not in carried and free:
                free.pop(0).source = publisher
        return len(publishers)

    def _publishers_changed(self, room: SfuRoom, exclude: SfuPeer | None = None) -> None:
        for other in room.peers.values():
            if other is exclude or other.subscriber is None:
                continue
            needed = self._assign_slots(room, other)
            other.session.send(
                p.SfuTracksEvent(cid=room.cid, track_owners=other.owners(), slots_needed=needed)
            )

    def _forward(self, room: SfuRoom, peer: SfuPeer, packet: RtpPacket) -> None:
        """One packet from ``peer``'s microphone: its level to the activity tracker, its payload
        to every slot carrying ``peer``."""
        if not peer.publishing:
            return
        level = packet_audio_level(packet)
        if level is not None:
            self.activity.on_packet_level(room.cid, peer.user_id, level)
        if not packet.payload:
            return
        if isinstance(packet, RepairedPacket):
            self.frames_repaired += 1
        sent = 0
        for other in room.peers.values():
            if other is peer:
                continue
            for relay in other.slots.values():
                if relay.source == peer.user_id:
                    relay.forward(peer.user_id, packet.timestamp, packet.payload)
                    sent += 1
        self.frames_forwarded += sent

    async def participant_left(self, session: Session, call: CallRecord) -> None:
        room = self.rooms.get(call.cid)
        if room is None:
            return
        peer = room.peers.pop(session.key, None)
        if peer is None:
            return
        was_publishing = peer.publishing
        await self._close_peer(peer)
        # others may have left while this one closed: the room is decided on what is left now
        if not any(o.user_id == peer.user_id for o in room.peers.values()):
            self.activity.remove_publisher(call.cid, peer.user_id)
        if not room.peers:
            if self.rooms.get(call.cid) is room:
                del self.rooms[call.cid]
                self.activity.remove_room(call.cid)
        elif was_publishing:
            self._publishers_changed(room)

    async def _close_peer(self, peer: SfuPeer) -> None:
        peer.publishing = False
        for relay in peer.slots.values():
            relay.stop()
        for pc in (peer.publisher, peer.subscriber):
            if pc is not None:
                await close_peer_connection(pc)
        peer.publisher = peer.subscriber = None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.activity.close()
        for room in list(self.rooms.values()):
            for peer in list(room.peers.values()):
                await self._close_peer(peer)
        self.rooms.clear()
