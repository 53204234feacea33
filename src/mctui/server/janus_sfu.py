"""Janus (VideoRoom) as the SFU, with the coordinator as the only Janus client.

Each call gets a VideoRoom on one Janus instance (the one with the fewest active publishers when
the call first needs media; sticky for the call), created audio-only with ``audiolevel_event`` on,
a random secret and the instance's ``admin_key`` if it has one; it is destroyed when the last
participant leaves. Per participant the coordinator holds a publisher handle (once they publish)
and a multistream subscriber handle (once there is someone to hear), and a monitor handle per room
receives the room's own events: publishers coming and going, and who is talking (for every room,
suspended ones included).

Why a proxy and not clients talking to Janus: room secrets and the admin key never leave the
server; permissions (a viewer cannot publish) stay where the other checks are; the speaking
activity of every room reaches the coordinator, which already sends ``call.levels``; and a client
keeps one connection and one protocol whichever SFU the server runs. Media goes straight between
client and Janus: only the offers, answers and candidates pass through the coordinator.

The client's side differs from the embedded SFU in one thing: Janus makes the subscriber's offer
(``sfu_subscribe``, then ``sfu.offer`` events when publishers come and go); the client answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from mctui import protocol as p
from mctui.audio.levels import FLOOR_DBFS
from mctui.errors import BadRequestError, MediaError, PermissionDeniedError
from mctui.protocol import SfuKindName
from mctui.server.janus_api import Event, JanusError, JanusSession
from mctui.server.records import CallRecord, Session

log = logging.getLogger(__name__)


@dataclass(eq=False)
class JanusInstance:
    url: str
    admin_key: str | None = None
    session: JanusSession | None = None
    alive: bool = True
    rooms: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass(eq=False)
class JanusPeer:
    session: Session
    user_id: str
    publisher: int | None = None
    feed: int | None = None
    subscriber: int | None = None
    feeds: set[int] = field(default_factory=set)  # subscribed
    wants: bool = False  # asked to hear the others
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(eq=False)
class JanusRoom:
    cid: str
    instance: JanusInstance
    room_id: int = 0
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    monitor: int | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: The room's creation on its instance, while one is under way or done.
    creating: asyncio.Task[None] | None = None
    feeds: dict[int, str] = field(default_factory=dict)  # publishing feed -> user id
    peers: dict[int, JanusPeer] = field(default_factory=dict)
    levels: dict[str, p.ParticipantActivity] = field(default_factory=dict)


class JanusSfu:
    """An ``SfuBackend`` on one or more Janus instances."""

    kind: ClassVar[SfuKindName] = "janus"

    def __init__(self, urls: list[str], admin_key: str | None = None) -> None:
        if not urls:
            raise ValueError("Janus needs at least one --janus URL")
        self.instances = [JanusInstance(url, admin_key) for url in urls]
        self.rooms: dict[str, JanusRoom] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- placing calls ------------------------------------------------------------------------

    def _place(self, cid: str) -> JanusRoom:
        """The call's room record, on the live instance with the fewest active publishers.

        A room stays where it is unless another instance is alive to take it: with the only
        instance down (restarting), every participant must meet in the one room record that
        will be created there once it is back; a new record for each caller would put the
        publisher in one Janus room and its listener in another."""
        room = self.rooms.get(cid)
        live = [i for i in self.instances if i.alive]
        if room is not None and (room.instance.alive or not live):
            return room
        live = live or self.instances
        instance = min(live, key=lambda i: sum(len(self.rooms[c].feeds) for c in i.rooms))
        room = JanusRoom(cid, instance)
        self.rooms[cid] = room
        instance.rooms.add(cid)
        return room

    def info_for(self, call: CallRecord) -> p.SfuInfo:
        room = self._place(call.cid)
        return p.SfuInfo(kind=self.kind, room=call.cid, media_host=room.instance.host)

    async def _connected(self, instance: JanusInstance) -> JanusSession:
        async with instance.lock:
            if instance.session is None or instance.session.closed.is_set():
                session = JanusSession(instance.url)
                try:
                    await session.open()
                except JanusError:
                    instance.alive = False
                    raise
                instance.session, instance.alive = session, True
                self._spawn(self._watch(instance, session))
            return instance.session

    async def _ready(self, room: JanusRoom) -> JanusSession:
        """The room exists on its instance (created at first use), and its monitor listens.

        One caller creates it; the others wait for that creation and share its failure (a
        Janus that went away meanwhile), after which the next caller tries again. A waiter
        never waits on a creation that nobody is doing any more."""
        janus = await self._connected(room.instance)
        if room.creating is None:
            room.creating = asyncio.get_running_loop().create_task(
                self._create_room(room, janus), name="janus-create-room"
            )
        creating = room.creating
        try:
            await asyncio.shield(creating)
        except BaseException:
            if creating.done() and room.creating is creating:
                room.creating = None  # failed: the next caller creates it again
            raise
        return janus

    async def _create_room(self, room: JanusRoom, janus: JanusSession) -> None:
        if room.ready.is_set():
            return
        room.monitor = -1  # creating
        try:
            body: dict[str, Any] = {
                "request": "create", "description": room.cid, "secret": room.secret,
                "publishers": 100, "audiocodec": "opus", "videocodec": "vp8",
                "audiolevel_event": True, "audio_active_packets": 10,
                "audio_level_average": 40, "is_private": True, "permanent": False,
            }  # fmt: skip
            if room.instance.admin_key:
                body["admin_key"] = room.instance.admin_key
            monitor = await janus.attach(functools.partial(self._on_room_event, room))
            created, _ = await janus.request(monitor, body)
            room.room_id, room.monitor = int(created["room"]), monitor
            joined, _ = await janus.request(
                room.monitor,
                {"request": "join", "ptype": "publisher", "room": room.room_id,
                 "display": "mctui-monitor"},
            )  # fmt: skip
            self._note_publishers(room, joined.get("publishers", []))
        except BaseException:
            room.monitor = None
            raise
        room.ready.set()

    def _peer(self, session: Session, call: CallRecord) -> tuple[JanusRoom, JanusPeer]:
        """The call's room and this participant's handles in it (made at first use)."""
        room = self._place(call.cid)
        peer = room.peers.get(session.key)
        if peer is None:
            user_id = call.participants[session.key].user.id
            peer = room.peers[session.key] = JanusPeer(session, user_id)
        return room, peer

    # --- what the coordinator asks --------------------------------------------------------------

    async def signal(
        self, session: Session, call: CallRecord, request: p.SfuSignalRequest
    ) -> p.SfuAnswer:
        participant = call.participants[session.key]
        room, peer = self._peer(session, call)
        try:
            janus = await self._ready(room)
            async with peer.lock:
                if request.role == p.SfuRole.PUBLISHER:
                    if request.sdp_type != "offer":
                        raise BadRequestError("the publisher connection starts with an offer")
                    if not call.can_publish(participant.role):
                        raise PermissionDeniedError(
                            f"a {participant.role} cannot publish audio in a {call.type} call"
                        )
                    return await self._publish(janus, room, peer, request.sdp, request.restart)
                if request.sdp_type != "answer" or peer.subscriber is None:
                    raise BadRequestError(
                        "Janus offers the subscriber connection: ask with sfu_subscribe and "
                        "send its answer"
                    )
                await janus.request(
                    peer.subscriber, {"request": "start"}, {"type": "answer", "sdp": request.sdp}
                )
                return p.SfuAnswer(sdp="")
        except JanusError as exc:
            raise MediaError(str(exc)) from exc

    async def _publish(
        self, janus: JanusSession, room: JanusRoom, peer: JanusPeer, sdp: str, restart: bool
    ) -> p.SfuAnswer:
        if restart and peer.publisher is not None:
            await self._drop_publisher(janus, room, peer)
        if peer.publisher is None:
            peer.publisher = await janus.attach(lambda e: None)
            joined, _ = await janus.request(
                peer.publisher,
                {"request": "join", "ptype": "publisher", "room": room.room_id,
                 "display": peer.user_id},
            )  # fmt: skip
            peer.feed = int(joined["id"])
        _, jsep = await janus.request(
            peer.publisher, {"request": "publish", "audio": True, "video": False},
            {"type": "offer", "sdp": sdp},
        )  # fmt: skip
        if jsep is None:
            raise MediaError("Janus answered the publisher offer without an SDP")
        # The others subscribe when the room's monitor hears of the new publisher: Janus
        # announces it once its media is up, and refuses subscriptions before ("No such feed").
        return p.SfuAnswer(sdp=jsep["sdp"])

    async def subscribe(self, session: Session, call: CallRecord) -> p.SfuOffer:
        room, peer = self._peer(session, call)
        peer.wants = True
        try:
            janus = await self._ready(room)
            async with peer.lock:
                if peer.subscriber is not None:  # a restart: a fresh connection
                    await janus.detach(peer.subscriber)
                    peer.subscriber, peer.feeds = None, set()
                feeds = [f for f, user in room.feeds.items() if user != peer.user_id]
                if not feeds:
                    return p.SfuOffer()
                offer, owners = await self._subscribe(janus, room, peer, feeds)
                return p.SfuOffer(sdp=offer, track_owners=owners)
        except JanusError as exc:
            raise MediaError(str(exc)) from exc

    async def _subscribe(
        self, janus: JanusSession, room: JanusRoom, peer: JanusPeer, feeds: list[int]
    ) -> tuple[str | None, dict[str, str]]:
        """Add ``feeds`` to ``peer``'s subscriber handle (creating it): Janus's new offer (None
        when nothing changed)."""
        streams = [{"feed": feed} for feed in feeds]
        if peer.subscriber is None:
            peer.subscriber = await janus.attach(functools.partial(self._on_sub, room, peer))
            data, jsep = await janus.request(
                peer.subscriber,
                {"request": "join", "ptype": "subscriber", "room": room.room_id,
                 "streams": streams, "use_msid": False},
            )  # fmt: skip
        else:
            data, jsep = await janus.request(
                peer.subscriber, {"request": "subscribe", "streams": streams}
            )
        peer.feeds.update(feeds)
        # no JSEP: nothing changed (the feed was in the first offer already)
        return (jsep["sdp"] if jsep is not None else None), self._owners(room, data)

    @staticmethod
    def _owners(room: JanusRoom, data: dict[str, Any]) -> dict[str, str]:
        owners = {}
        for stream in data.get("streams", []):
            if stream.get("type") == "audio" and stream.get("active", True):
                user = stream.get("feed_display") or room.feeds.get(
                    int(stream.get("feed_id", 0) or 0)
                )
                if user is not None and stream.get("mid") is not None:
                    owners[str(stream["mid"])] = user
        return owners

    def _publisher_arrived(self, room: JanusRoom, feed: int) -> None:
        """Everyone who wants to hear gets the new publisher (a new offer each)."""
        for peer in list(room.peers.values()):
            if peer.wants and peer.user_id != room.feeds.get(feed) and feed not in peer.feeds:
                self._spawn(self._add_feed(room, peer, feed))

    async def _add_feed(self, room: JanusRoom, peer: JanusPeer, feed: int) -> None:
        try:
            janus = await self._ready(room)
            async with peer.lock:
                if (
                    feed in peer.feeds
                    or feed not in room.feeds
                    or room.peers.get(peer.session.key) is not peer
                ):
                    return
                sdp, owners = await self._subscribe(janus, room, peer, [feed])
            if sdp is not None:
                peer.session.send(p.SfuOfferEvent(cid=room.cid, sdp=sdp, track_owners=owners))
        except MediaError as exc:  # JanusError is one
            log.warning(
                "subscribing %s to a publisher in %s failed: %s", peer.user_id, room.cid, exc
            )

    # --- Janus's own events ---------------------------------------------------------------------

    def _on_sub(self, room: JanusRoom, peer: JanusPeer, event: Event) -> None:
        """A subscriber's offer Janus made by itself (a publisher it carried left)."""
        data = event.get("plugindata", {}).get("data", {})
        jsep = event.get("jsep")
        if jsep is not None and jsep.get("type") == "offer":
            owners = self._owners(room, data)
            peer.session.send(p.SfuOfferEvent(cid=room.cid, sdp=jsep["sdp"], track_owners=owners))

    def _on_room_event(self, room: JanusRoom, event: Event) -> None:
        data = event.get("plugindata", {}).get("data", {})
        kind = data.get("videoroom")
        if kind == "event" and "publishers" in data:
            self._note_publishers(room, data["publishers"])
        elif kind == "event" and ("unpublished" in data or "leaving" in data):
            gone = data.get("unpublished", data.get("leaving"))
            left = room.feeds.pop(gone, None) if isinstance(gone, int) else None
            if left is not None:
                for peer in room.peers.values():
                    peer.feeds.discard(gone)
                room.levels.pop(left, None)
                self._send_levels(room)
        elif kind in ("talking", "stopped-talking"):
            user = room.feeds.get(int(data.get("id", 0) or 0))
            if user is not None:
                level = -float(data.get("audio-level-dBov-avg", 127.0))
                talking = kind == "talking"
                room.levels[user] = p.ParticipantActivity(
                    level_dbfs=round(level) if talking else FLOOR_DBFS, speaking=talking
                )
                self._send_levels(room)

    def _note_publishers(self, room: JanusRoom, publishers: list[dict[str, Any]]) -> None:
        for publisher in publishers:
            feed, user = int(publisher.get("id", 0)), str(publisher.get("display", ""))
            if feed and user and user != "mctui-monitor" and feed not in room.feeds:
                room.feeds[feed] = user
                self._publisher_arrived(room, feed)

    def _send_levels(self, room: JanusRoom) -> None:
        event = p.CallLevelsEvent(cid=room.cid, levels=dict(room.levels))
        for peer in room.peers.values():
            peer.session.send(event)

    async def _watch(self, instance: JanusInstance, session: JanusSession) -> None:
        """An instance that goes away: its calls are told and placed elsewhere on rebuild."""
        await session.closed.wait()
        if instance.session is not session:
            return
        instance.alive = False
        log.error("lost the Janus instance at %s", instance.url)
        for cid in list(instance.rooms):
            room = self.rooms.pop(cid, None)
            if room is None:
                continue
            message = f"the media server of {cid} ({instance.url}) went away"
            for peer in room.peers.values():
                peer.session.send(p.CallMediaErrorEvent(cid=cid, message=message))
        instance.rooms.clear()

    # --- leaving --------------------------------------------------------------------------------

    async def add_candidate(
        self, session: Session, call: CallRecord, request: p.SfuCandidateRequest
    ) -> None:
        room = self.rooms.get(call.cid)
        peer = room.peers.get(session.key) if room is not None else None
        if room is None or peer is None or room.instance.session is None:
            raise BadRequestError(f"send the {request.role} offer before its candidates")
        handle = peer.publisher if request.role == p.SfuRole.PUBLISHER else peer.subscriber
        if handle is None:
            raise BadRequestError(f"send the {request.role} offer before its candidates")
        candidate: dict[str, Any] = (
            {"completed": True}
            if request.candidate is None
            else {"candidate": request.candidate, "sdpMid": request.sdp_mid or "0",
                  "sdpMLineIndex": 0}
        )  # fmt: skip
        try:
            await room.instance.session.trickle(handle, candidate)
        except JanusError as exc:
            raise MediaError(str(exc)) from exc

    async def _drop_publisher(self, janus: JanusSession, room: JanusRoom, peer: JanusPeer) -> None:
        if peer.feed is not None:
            room.feeds.pop(peer.feed, None)
        if peer.publisher is not None:
            await janus.detach(peer.publisher)
        peer.publisher = peer.feed = None

    async def participant_left(self, session: Session, call: CallRecord) -> None:
        room = self.rooms.get(call.cid)
        peer = room.peers.pop(session.key, None) if room is not None else None
        if room is None or peer is None:
            return
        janus = room.instance.session
        if janus is not None and not janus.closed.is_set():
            async with peer.lock:
                await self._drop_publisher(janus, room, peer)
                if peer.subscriber is not None:
                    await janus.detach(peer.subscriber)
        room.levels.pop(peer.user_id, None)
        if not room.peers:
            await self._destroy(room)

    async def _destroy(self, room: JanusRoom) -> None:
        if self.rooms.get(room.cid) is room:
            del self.rooms[room.cid]
        room.instance.rooms.discard(room.cid)
        janus = room.instance.session
        if janus is None or janus.closed.is_set() or not room.ready.is_set():
            return
        with contextlib.suppress(JanusError):
            body: dict[str, Any] = {
                "request": "destroy", "room": room.room_id, "secret": room.secret
            }  # fmt: skip
            if room.instance.admin_key:
                body["admin_key"] = room.instance.admin_key
            if room.monitor:
                await janus.request(room.monitor, body)
        if room.monitor:
            await janus.detach(room.monitor)

    def session_replaced(self, old: Session, new: Session, call: CallRecord) -> None:
        room = self.rooms.get(call.cid)
        peer = room.peers.pop(old.key, None) if room is not None else None
        if room is not None and peer is not None:
            peer.session = new
            room.peers[new.key] = peer

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="sfu-janus")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await self._destroy(room)
        for task in list(self._tasks):
            task.cancel()
        for instance in self.instances:
            if instance.session is not None:
                await instance.session.close()
