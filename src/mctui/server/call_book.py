"""The calls of one server: who owns each, its members and their roles, who is in it now, and
the rings under way (``RingDesk``).

The call book owns every ``CallRecord`` and the index of which calls each connection is in, so
a disconnect costs what that connection did, not the number of calls. It knows connections only
as ``Session`` objects handed to it; which connections exist, who they are and how long a lost
one keeps its place is the session book's (``server.sessions``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from pydantic import BaseModel

from mctui import protocol as p
from mctui.errors import (
    CallEndedError,
    CallNotFoundError,
    InvalidStateError,
    LimitReachedError,
    NotAMemberError,
    PermissionDeniedError,
)
from mctui.server.limits import ServerLimits
from mctui.server.records import CallRecord, Participant, Session, SfuBackend
from mctui.server.ringing import RingDesk
from mctui.server.tally import Tally
from mctui.server.tokens import issue_role_claim, verify_role_claim

DEFAULT_RING_TIMEOUT_S = 30.0
MAX_REMEMBERED_OWNERS = 100_000

#: ``(user id, cid) -> that user's connections that may hear about the call``.
SessionsOf = Callable[[str, str], list[Session]]


class CallBook:
    """Calls, members, owners, roles and participants; every change to them happens here."""

    def __init__(
        self,
        secret: str,
        limits: ServerLimits,
        sfu: SfuBackend,
        tally: Tally,
        sessions_of: SessionsOf,
        *,
        ring_timeout: float = DEFAULT_RING_TIMEOUT_S,
        ice_servers: list[p.IceServerInfo] | None = None,
    ) -> None:
        self._secret = secret
        self.limits = limits
        self.sfu = sfu
        self.tally = tally
        self._sessions_of = sessions_of
        #: Told to every joining client (a browser guest has no list of its own).
        self.ice_servers = list(ice_servers or [])
        self.calls: dict[str, CallRecord] = {}
        self.rings = RingDesk(ring_timeout, self.calls.get, sessions_of, self.maybe_free)
        self._session_calls: dict[int, set[str]] = {}  # connection -> the calls it is in
        self._open_calls_of: dict[str, int] = {}  # owner -> calls created and not ended
        # Who created each call, kept after the call is freed so recreating it hands nothing
        # over; bounded (oldest forgotten first).
        self._owners: OrderedDict[str, str] = OrderedDict()

    # --- looking up ---------------------------------------------------------------------------

    def call(self, cid: str) -> CallRecord:
        call = self.calls.get(cid)
        if call is None:
            raise CallNotFoundError(f"call {cid} not found")
        return call

    def media_call(self, session: Session, cid: str) -> CallRecord:
        """The call a media request is about, which this connection must have joined."""
        call = self.call(cid)
        if session.key not in call.participants:
            raise InvalidStateError(f"join {call.cid} before sending or asking for media")
        return call

    def calls_of(self, session: Session) -> set[str]:
        """The calls ``session`` is in (a copy)."""
        return set(self._session_calls.get(session.key, ()))

    def user_joined(self, call: CallRecord, user_id: str) -> bool:
        return any(part.user.id == user_id for part in call.participants.values())

    # --- creating and freeing -----------------------------------------------------------------

    def get_or_create(
        self, user: p.UserInfo, call_type: p.CallType, call_id: str, create: bool
    ) -> CallRecord:
        cid = p.call_cid(call_type, call_id)
        call = self.calls.get(cid)
        if call is None or (call.ended and create):
            if not create:
                raise CallNotFoundError(f"call {cid} not found")
            # The creator owns a call for good: recreating it (after it ended, or after it was
            # freed when empty) does not hand it over.
            owner = call.created_by if call is not None else self._owners.get(cid, user.id)
            if owner == user.id:
                self._check_calls_per_user(user)
            if call is not None and not call.ended:
                self._close_count(call)
            call = CallRecord(type=call_type, id=call_id, created_by=owner)
            call.members[owner] = p.MemberRole.HOST
            self.calls[cid] = call
            self._set_owner(call, owner)
        return call

    def _set_owner(self, call: CallRecord, owner: str) -> None:
        self._owners[call.cid] = owner
        self._owners.move_to_end(call.cid)
        while len(self._owners) > MAX_REMEMBERED_OWNERS:
            self._owners.popitem(last=False)
        self._open_calls_of[owner] = self._open_calls_of.get(owner, 0) + 1

    def _close_count(self, call: CallRecord) -> None:
        left = self._open_calls_of.get(call.created_by, 1) - 1
        if left > 0:
            self._open_calls_of[call.created_by] = left
        else:
            self._open_calls_of.pop(call.created_by, None)

    def maybe_free(self, call: CallRecord) -> None:
        """A call nobody is in and nobody is being rung for is forgotten (its owner is not)."""
        if call.participants or call.rings or self.calls.get(call.cid) is not call:
            return
        if not call.ended:
            self._close_count(call)
        del self.calls[call.cid]

    def _check_calls_per_user(self, user: p.UserInfo) -> None:
        owned = self._open_calls_of.get(user.id, 0)
        if owned >= self.limits.max_calls_per_user:
            raise LimitReachedError(
                f"you have {owned} calls open, the most this server allows: end some first"
            )

    # --- members ------------------------------------------------------------------------------

    def add_members(self, call: CallRecord, user: p.UserInfo, members: list[str]) -> None:
        if not members:
            return
        if user.id not in call.members:
            raise NotAMemberError(f"only members of {call.cid} can add members")
        new = [m for m in dict.fromkeys(members) if m not in call.members]
        if len(call.members) + len(new) > self.limits.max_members_per_call:
            raise LimitReachedError(
                f"{call.cid} has {len(call.members)} members; adding {len(new)} would pass "
                f"the {self.limits.max_members_per_call} this server allows"
            )
        for member in new:
            call.members[member] = call.default_role

    def restore_role(
        self, call: CallRecord, user: p.UserInfo, role: p.MemberRole, *, created: bool
    ) -> None:
        """A client rejoining after a lost connection shows the role claim the server signed
        at its earlier join. The server restores that role only for a call this rejoin
        recreated (a restart, or everyone gone, lost it) and for the grace period after that;
        a host's claim makes it the owner again if nobody has taken the call since."""
        now = time.monotonic()
        if created:
            call.restoring_until = now + self.limits.reconnect_grace_s
            call.members[user.id] = role
            call.owner_known = role is p.MemberRole.HOST
        elif now < call.restoring_until and user.id not in call.members:
            call.members[user.id] = role
            if role is p.MemberRole.HOST and not call.owner_known:  # the creator is back
                self._close_count(call)
                call.created_by, call.owner_known = user.id, True
                self._set_owner(call, user.id)

    # --- participants -------------------------------------------------------------------------

    async def join(
        self, session: Session, user: p.UserInfo, request: p.JoinCallRequest
    ) -> p.JoinResult:
        cid = p.call_cid(request.call_type, request.call_id)
        existed = cid in self.calls and not self.calls[cid].ended
        guest = session.scope is not None
        if guest and not existed:
            # A guest cannot start (or restart) a call: it waits until a member is in it.
            raise CallNotFoundError(f"call {cid} has not started yet")
        call = self.get_or_create(user, request.call_type, request.call_id, request.create)
        if call.ended:
            raise CallEndedError(f"call {call.cid} has ended")
        joined = call.participants.get(session.key)
        if joined is not None:
            if request.rejoin_role is None:
                raise InvalidStateError(f"this connection has already joined {call.cid}")
            return self._join_result(call, user, joined.role)  # a resumed client resyncs
        if len(call.participants) >= self.limits.max_participants_per_call:
            raise LimitReachedError(
                f"{call.cid} has {len(call.participants)} participants, the most this server "
                "allows in one call"
            )
        if request.rejoin_role is not None:
            self.tally.rejoins += 1
        claimed = None  # the server's own signed word, never the role the request names
        if request.rejoin_role is not None and not guest:
            claimed = verify_role_claim(self._secret, request.role_claim, user.id, call.cid)
        if claimed is not None:
            self.restore_role(call, user, claimed, created=not existed)
        if user.id not in call.members:
            call.members[user.id] = call.default_role
        role = call.members[user.id]
        call.participants[session.key] = Participant(session, user, role)
        self._session_calls.setdefault(session.key, set()).add(call.cid)
        ring = call.rings.pop(user.id, None)
        if ring is not None and ring.timer is not None:
            ring.timer.cancel()
        event = p.ParticipantJoinedEvent(cid=call.cid, user=user, role=role)
        self.send_to_participants(call, event, exclude=session)
        return self._join_result(call, user, role)

    def _join_result(self, call: CallRecord, user: p.UserInfo, role: p.MemberRole) -> p.JoinResult:
        sfu = self.sfu.info_for(call)
        if self.ice_servers:
            sfu = sfu.model_copy(update={"ice_servers": self.ice_servers})
        return p.JoinResult(
            call=call.info(list_members=False), role=role, can_publish=call.can_publish(role),
            sfu=sfu,
            role_claim=issue_role_claim(
                self._secret, user.id, call.cid, role, self.limits.max_token_lifetime_s
            ),
        )  # fmt: skip

    async def leave(self, session: Session, user: p.UserInfo, call: CallRecord) -> None:
        """``session`` leaves ``call`` by asking; rings its user started stop if it created the
        call or has no other connection in it."""
        if session.key not in call.participants:
            raise InvalidStateError(f"you have not joined {call.cid}")
        await self.remove_participant(call, session)
        if call.created_by == user.id or not self.user_joined(call, user.id):
            self.rings.cancel_by(call, user)

    async def remove_participant(
        self, call: CallRecord, session: Session, reason: p.LeaveReason = "left"
    ) -> None:
        participant = call.participants.pop(session.key, None)
        if participant is None:
            return
        self._session_calls.get(session.key, set()).discard(call.cid)
        await self.sfu.participant_left(session, call)
        event = p.ParticipantLeftEvent(cid=call.cid, user=participant.user, reason=reason)
        self.send_to_participants(call, event)
        self.maybe_free(call)

    async def leave_all(self, session: Session, reason: p.LeaveReason) -> None:
        """``session`` is gone for good: it leaves every call it was in."""
        for cid in self._session_calls.pop(session.key, set()):
            call = self.calls.get(cid)
            if call is not None and session.key in call.participants:
                await self.remove_participant(call, session, reason)

    def set_muted(self, session: Session, user: p.UserInfo, call: CallRecord, muted: bool) -> None:
        participant = call.participants.get(session.key)
        if participant is None:
            raise InvalidStateError(f"you have not joined {call.cid}")
        participant.audio_muted = muted
        event = p.ParticipantMutedEvent(cid=call.cid, user=user, audio_muted=muted)
        self.send_to_participants(call, event, exclude=session)

    def set_away(self, session: Session, away: bool) -> int:
        """Mark ``session``'s places in its calls away (its connection was lost) or back; the
        others hear it. Returns how many calls it is in."""
        cids = self._session_calls.get(session.key, set())
        for cid in cids:
            call = self.calls.get(cid)
            participant = call.participants.get(session.key) if call is not None else None
            if call is None or participant is None or participant.away == away:
                continue
            participant.away = away
            event = p.ParticipantAwayEvent(cid=cid, user=participant.user, away=away)
            self.send_to_participants(call, event, exclude=session)
        return len(cids)

    def move_participant(self, old: Session, new: Session) -> int:
        """``new`` becomes the participant ``old`` was, in every call: same place, same media,
        no leave or join for the others (back from ``away`` if it was). Returns the calls."""
        cids = self._session_calls.pop(old.key, set())
        self._session_calls.setdefault(new.key, set()).update(cids)
        for cid in cids:
            call = self.calls.get(cid)
            participant = call.participants.pop(old.key, None) if call is not None else None
            if call is None or participant is None:
                continue
            participant.session = new
            call.participants[new.key] = participant
            self.sfu.session_replaced(old, new, call)
        self.set_away(new, False)
        return len(cids)

    # --- ending and ringing -------------------------------------------------------------------

    async def end(self, user: p.UserInfo, call: CallRecord) -> None:
        creator = call.created_by == user.id and call.owner_known
        if not creator and call.members.get(user.id) is not p.MemberRole.HOST:
            raise PermissionDeniedError(f"only the host or creator can end {call.cid}")
        if call.ended:
            return
        call.ended = True
        self._close_count(call)
        event = p.CallEndedEvent(cid=call.cid, by=user)
        notified: set[int] = set()
        for participant in list(call.participants.values()):
            participant.session.send(event)
            notified.add(participant.session.key)
        for callee in list(call.rings):
            for session in self._sessions_of(callee, call.cid):
                if session.key not in notified:
                    session.send(event)
                    notified.add(session.key)
        self.rings.clear(call)
        for participant in list(call.participants.values()):
            await self.remove_participant(call, participant.session, "ended")
        self.maybe_free(call)

    def ring(self, caller: p.UserInfo, call: CallRecord, members: list[str]) -> None:
        if call.ended:
            raise CallEndedError(f"call {call.cid} has ended")
        if caller.id not in call.members:
            raise NotAMemberError(f"only members of {call.cid} can ring")
        self.add_members(call, caller, members)
        self.rings.ring(caller, call, members)

    def cancel_rings_by(self, user: p.UserInfo) -> None:
        """``user`` has no connection left: the rings it started stop."""
        for cid in self.rings.calls_rung_by(user.id):
            call = self.calls.get(cid)
            if call is not None:
                self.rings.cancel_by(call, user)

    def send_to_participants(
        self, call: CallRecord, message: BaseModel, exclude: Session | None = None
    ) -> None:
        for participant in list(call.participants.values()):
            if participant.session is not exclude:
                participant.session.send(message)

    def close(self) -> None:
        """Stop every ring timer (server shutdown)."""
        for call in self.calls.values():
            for ring in call.rings.values():
                if ring.timer is not None:
                    ring.timer.cancel()
            call.rings.clear()
