"""What the coordinator keeps: connections, calls, participants, rings; and the SFU interface.

Plain records with no behaviour beyond describing themselves; the coordinator owns and changes
them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pydantic import BaseModel

from mctui import protocol as p
from mctui.errors import InvalidStateError
from mctui.protocol import SfuKindName
from mctui.server.limits import TokenBucket


class Session(ABC):
    """One client connection. ``send`` must not block: transports queue the message."""

    _keys = itertools.count(1)

    def __init__(self) -> None:
        self.key = next(Session._keys)
        self.user: p.UserInfo | None = None
        self.expires_at = 0.0
        #: Set for a call-scoped (guest) token: the only call this connection may join.
        self.scope: str | None = None
        self.bucket: TokenBucket | None = None
        #: The client's resume id (from ``hello``): a later connection with it takes over.
        self.resume_id: str | None = None
        #: Set while the connection is lost and its calls wait for a resume (the grace period).
        self.grace: asyncio.TimerHandle | None = None
        #: Another connection resumed this one's calls: closing this one changes nothing.
        self.replaced = False

    @abstractmethod
    def send(self, message: BaseModel) -> None: ...

    def drop(self) -> None:  # noqa: B027 - optional: transports that can close do
        """Close the connection from the server's side (a resume replaced it)."""


class SfuBackend(Protocol):
    """What the coordinator needs from an SFU (embedded aiortc or Janus)."""

    #: Which backend this is (``SfuInfo.kind``; the metrics' ``sfu`` label).
    kind: ClassVar[SfuKindName]

    def info_for(self, call: CallRecord) -> p.SfuInfo: ...

    async def signal(
        self, session: Session, call: CallRecord, request: p.SfuSignalRequest
    ) -> p.SfuAnswer: ...

    async def add_candidate(
        self, session: Session, call: CallRecord, request: p.SfuCandidateRequest
    ) -> None: ...

    async def participant_left(self, session: Session, call: CallRecord) -> None: ...

    def session_replaced(self, old: Session, new: Session, call: CallRecord) -> None:
        """A client resumed on a new connection: ``new`` now owns ``old``'s media in ``call``."""

    async def subscribe(self, session: Session, call: CallRecord) -> p.SfuOffer:
        """For an SFU that offers the subscriber connection itself: its first offer."""

    async def close(self) -> None: ...


class NoSfu:
    """A coordinator without media (signalling tests): joins succeed, no media is forwarded."""

    kind: ClassVar[SfuKindName] = "none"

    def info_for(self, call: CallRecord) -> p.SfuInfo:
        return p.SfuInfo(kind=self.kind)

    async def signal(
        self, session: Session, call: CallRecord, request: p.SfuSignalRequest
    ) -> p.SfuAnswer:
        raise InvalidStateError("this server has no SFU")

    async def add_candidate(
        self, session: Session, call: CallRecord, request: p.SfuCandidateRequest
    ) -> None:
        raise InvalidStateError("this server has no SFU")

    async def participant_left(self, session: Session, call: CallRecord) -> None:
        return None

    def session_replaced(self, old: Session, new: Session, call: CallRecord) -> None:
        return None

    async def subscribe(self, session: Session, call: CallRecord) -> p.SfuOffer:
        raise InvalidStateError("this server has no SFU")

    async def close(self) -> None:
        return None


@dataclass
class Participant:
    session: Session
    user: p.UserInfo
    role: p.MemberRole
    audio_muted: bool = False
    #: The connection is lost and the grace period runs: the place is kept, the others know.
    away: bool = False


@dataclass
class PendingRing:
    caller: p.UserInfo
    timer: asyncio.TimerHandle | None


@dataclass
class CallRecord:
    type: p.CallType
    id: str
    created_by: str
    members: dict[str, p.MemberRole] = field(default_factory=dict)
    participants: dict[int, Participant] = field(default_factory=dict)
    rings: dict[str, PendingRing] = field(default_factory=dict)
    ended: bool = False
    #: Until this ``time.monotonic()``, a rejoining client gets back the role it says it held:
    #: set when a rejoin recreates a call a server restart lost.
    restoring_until: float = 0.0
    #: False for a call recreated by a rejoin of someone who was not its host: its creator is
    #: unknown, so only a host may end it.
    owner_known: bool = True
    #: ``time.monotonic()`` when this server created the call (the directory's "running").
    created_at: float = field(default_factory=time.monotonic)

    @property
    def cid(self) -> str:
        return p.call_cid(self.type, self.id)

    @property
    def default_role(self) -> p.MemberRole:
        """What a member added or joining without a role gets: a livestream's audience views."""
        if self.type is p.CallType.LIVESTREAM:
            return p.MemberRole.VIEWER
        return p.MemberRole.MEMBER

    def can_publish(self, role: p.MemberRole) -> bool:
        if self.type is p.CallType.LIVESTREAM:
            return role is p.MemberRole.HOST
        return role in (p.MemberRole.HOST, p.MemberRole.MEMBER)

    def info(self, for_member: bool = True, *, list_members: bool = True) -> p.CallInfo:
        """The call as the coordinator tells it; only members see who is in it, and only
        with ``list_members`` who its members are (a count otherwise)."""
        if not for_member:
            return p.CallInfo(
                cid=self.cid, type=self.type, id=self.id, created_by=self.created_by,
                members=[], participants=[], ended=self.ended,
            )  # fmt: skip
        seen: dict[str, p.UserInfo] = {}
        for participant in self.participants.values():
            seen.setdefault(participant.user.id, participant.user)
        return p.CallInfo(
            cid=self.cid,
            type=self.type,
            id=self.id,
            created_by=self.created_by,
            members=[p.MemberInfo(user_id=u, role=r) for u, r in self.members.items()]
            if list_members
            else [],
            member_count=len(self.members),
            participants=list(seen.values()),
            ended=self.ended,
        )
