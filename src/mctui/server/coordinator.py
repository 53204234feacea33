"""The coordinator's logic: calls, members, participants, ringing and permissions.

No networking here: a transport (the aiohttp WebSocket app, or an in-process hub in tests) owns the
connections, hands each incoming text frame to :meth:`Coordinator.handle_text` and delivers what the
coordinator sends through ``Session.send``. Every request gets exactly one reply or one typed error
reply; a bad message never affects anyone else's session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from pydantic import BaseModel

from mctui import protocol as p
from mctui.errors import (
    AuthError,
    BadRequestError,
    CallEndedError,
    CallNotFoundError,
    InvalidStateError,
    LimitReachedError,
    MctuiError,
    MessageTooLargeError,
    NotAMemberError,
    PermissionDeniedError,
    RateLimitedError,
    VersionMismatchError,
)
from mctui.server.directory import room_directory
from mctui.server.invites import create_invite
from mctui.server.limits import ServerLimits, TokenBucket
from mctui.server.records import (
    CallRecord,
    NoSfu,
    Participant,
    Session,
    SfuBackend,
)
from mctui.server.requests import decode_frame, request_id_of, validate_request
from mctui.server.ringing import RingDesk
from mctui.server.tally import Tally
from mctui.server.tokens import (
    TokenClaims,
    issue_role_claim,
    verify_claims,
    verify_role_claim,
)

__all__ = ["CallRecord", "Coordinator", "NoSfu", "Participant", "Session", "SfuBackend"]

log = logging.getLogger(__name__)

DEFAULT_RING_TIMEOUT_S = 30.0
MAX_REMEMBERED_OWNERS = 100_000
_ERROR_CODES: frozenset[str] = frozenset(p.ErrorCode.__args__)  # type: ignore[attr-defined]


class Coordinator:
    """All calls of one server, and the connected sessions."""

    def __init__(
        self,
        secret: str,
        *,
        ring_timeout: float = DEFAULT_RING_TIMEOUT_S,
        sfu: SfuBackend | None = None,
        limits: ServerLimits | None = None,
        ice_servers: list[p.IceServerInfo] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the coordinator needs a non-empty secret")
        self._secret = secret
        self.limits = limits or ServerLimits()
        self.sfu: SfuBackend = sfu if sfu is not None else NoSfu()
        #: Told to every joining client (a browser guest has no list of its own).
        self.ice_servers = list(ice_servers or [])
        self.calls: dict[str, CallRecord] = {}
        self.sessions: dict[int, Session] = {}
        self.tally = Tally()  # what /metrics reports (server.metrics)
        self._user_sessions: dict[str, set[int]] = {}
        # Indexes so a disconnect costs what that connection did, not the number of calls.
        self._session_calls: dict[int, set[str]] = {}
        self.rings = RingDesk(ring_timeout, self.calls.get, self._sessions_of, self._maybe_free)
        self._open_calls_of: dict[str, int] = {}  # owner -> calls created and not ended
        # Who created each call, kept after the call is freed so recreating it hands nothing
        # over; bounded (oldest forgotten first).
        self._owners: OrderedDict[str, str] = OrderedDict()
        #: (user id, resume id) -> the connection a reconnecting client takes over: open ones,
        #: and lost ones in their grace period.
        self._resumable: dict[tuple[str, str], Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # --- sessions -----------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions[session.key] = session
        self.tally.connections_opened += 1
        session.bucket = TokenBucket(self.limits.messages_per_second, self.limits.message_burst)

    def authenticate(
        self, session: Session, token: str | None, resume: str | None = None
    ) -> tuple[p.UserInfo, bool]:
        """Verify ``token`` and bind the session to its user (raises ``AuthError``); with the
        ``resume`` id of an earlier connection of the same user and scope, take over its calls.
        Returns the user and whether a resume happened."""
        claims = self._verify(token)
        previous = self._resumable.get((claims.user_id, resume)) if resume else None
        if previous is not None and (previous is session or previous.scope != claims.call):
            previous = None
        connections = self._user_sessions.get(claims.user_id, set())
        counted = len(connections - ({previous.key} if previous is not None else set()))
        if counted >= self.limits.max_connections_per_user:
            raise LimitReachedError(
                f"{claims.user_id!r} already has {counted} connections, the most this "
                "server allows: close one first"
            )
        user = p.UserInfo(id=claims.user_id, name=claims.name)
        session.user = user
        session.expires_at = claims.expires_at
        session.scope = claims.call
        session.resume_id = resume
        self._user_sessions.setdefault(claims.user_id, set()).add(session.key)
        if resume:
            self._resumable[(claims.user_id, resume)] = session
        if previous is None:
            return user, False
        self._take_over(previous, session)
        return user, True

    def _take_over(self, old: Session, new: Session) -> None:
        """``new`` becomes the participant ``old`` was, in every call: same place, same media,
        no leave or join for the others (they saw it ``away`` if the grace period had begun)."""
        if old.grace is not None:
            old.grace.cancel()
            old.grace = None
        if self.sessions.pop(old.key, None) is not None:  # still open: the client gave up on it
            self._forget_connection(old)
            old.drop()
        old.replaced = True
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
            if participant.away:
                participant.away = False
                back = p.ParticipantAwayEvent(cid=cid, user=participant.user, away=False)
                self._send_to_participants(call, back, exclude=new)
        log.info("%s resumed %d call(s) on a new connection", new.user, len(cids))
        self.tally.resumes += 1

    def _forget_connection(self, session: Session) -> None:
        if session.user is not None:
            keys = self._user_sessions.get(session.user.id, set())
            keys.discard(session.key)
            if not keys:
                self._user_sessions.pop(session.user.id, None)

    async def detach(self, session: Session, *, lost: bool = False) -> None:
        """The connection closed. Closed by the client (it quit, or its process died): its
        calls are left now. ``lost`` (no answer to the heartbeat, a network error): with a
        resume id, its places are kept for the grace period and the others see it ``away``."""
        self.sessions.pop(session.key, None)
        if session.replaced:
            return
        self._forget_connection(session)
        calls = self._session_calls.get(session.key, set())
        if lost and session.resume_id and calls and session.user is not None and not self.closed:
            for cid in calls:
                call = self.calls.get(cid)
                participant = call.participants.get(session.key) if call is not None else None
                if call is not None and participant is not None:
                    participant.away = True
                    away = p.ParticipantAwayEvent(cid=cid, user=participant.user, away=True)
                    self._send_to_participants(call, away, exclude=session)
            self.tally.connections_lost += 1
            session.grace = asyncio.get_running_loop().call_later(
                self.limits.reconnect_grace_s, self._grace_over, session
            )
            log.info("%s lost its connection; keeping its place for %g s", session.user,
                     self.limits.reconnect_grace_s)  # fmt: skip
            return
        await self._drop_session(session, "disconnected")

    def _grace_over(self, session: Session) -> None:
        session.grace = None
        task = asyncio.get_running_loop().create_task(self._drop_session(session, "timeout"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_session(self, session: Session, reason: p.LeaveReason) -> None:
        """``session`` is gone for good: leave its calls and cancel the rings it started."""
        if session.user is not None and session.resume_id:
            key = (session.user.id, session.resume_id)
            if self._resumable.get(key) is session:
                del self._resumable[key]
        for cid in self._session_calls.pop(session.key, set()):
            call = self.calls.get(cid)
            if call is not None and session.key in call.participants:
                await self._remove_participant(call, session, reason)
        if session.user is not None and session.user.id not in self._user_sessions:
            for cid in self.rings.calls_rung_by(session.user.id):
                call = self.calls.get(cid)
                if call is not None:
                    self.rings.cancel_by(call, session.user)

    def close(self) -> None:
        """Stop every ring and grace timer (server shutdown)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for waiting in list(self._resumable.values()):
            if waiting.grace is not None:
                waiting.grace.cancel()
                waiting.grace = None
        for call in self.calls.values():
            for ring in call.rings.values():
                if ring.timer is not None:
                    ring.timer.cancel()
            call.rings.clear()

    # --- the entry point ----------------------------------------------------------------------

    async def handle_text(self, session: Session, raw: str | bytes) -> None:
        """Handle one frame from a client: exactly one reply or typed error reply goes back."""
        request_id: int | None = None
        try:
            data = decode_frame(raw, min(self.limits.max_message_bytes, p.MAX_MESSAGE_BYTES))
            request_id = request_id_of(data)
            if session.bucket is not None and not session.bucket.take():
                raise RateLimitedError(
                    f"more than {self.limits.messages_per_second:g} messages per second: "
                    "slow down (this message was dropped)"
                )
            request = validate_request(data)
            self.tally.messages[request.type] += 1
            result = await self._dispatch(session, request)
            session.send(p.Reply.to(request, result))
        except MctuiError as exc:
            code = exc.code if exc.code in _ERROR_CODES else "internal"
            self.tally.errors[code] += 1
            reply = p.ErrorReply(id=request_id, code=code, message=exc.message)  # type: ignore[arg-type]
            session.send(reply)
        except Exception:
            log.exception("internal error handling a request")
            self.tally.errors["internal"] += 1
            session.send(
                p.ErrorReply(id=request_id, code="internal", message="internal server error")
            )

    async def _dispatch(self, session: Session, request: p.Request) -> p.ResultModel:
        if isinstance(request, p.HelloRequest):
            if session.user is not None:
                raise InvalidStateError(
                    f"this connection is already {session.user.id!r}: one identity per "
                    "connection (open another connection for another user)"
                )
            if request.version != p.PROTOCOL_VERSION:
                raise VersionMismatchError(
                    f"protocol version {request.version} is not supported; this server speaks"
                    f" version {p.PROTOCOL_VERSION}: upgrade the older side"
                )
            user, resumed = self.authenticate(session, request.token, request.resume)
            return p.HelloResult(user=user, version=p.PROTOCOL_VERSION, resumed=resumed)
        if isinstance(request, p.UpdateTokenRequest):
            return self._update_token(session, request.token)
        user = self._require_user(session)
        self._check_scope(session, request)
        match request:
            case p.PingRequest():
                return p.EmptyResult()
            case p.GetOrCreateCallRequest():
                create = request.create and session.scope is None  # guests never create calls
                call = self._get_or_create(user, request.call_type, request.call_id, create)
                self._add_members(call, user, request.members)
                return p.CallResult(call=call.info(for_member=user.id in call.members))
            case p.JoinCallRequest():
                return await self._join(session, user, request)
            case p.LeaveCallRequest():
                call = self._call(request.cid)
                if session.key not in call.participants:
                    raise InvalidStateError(f"you have not joined {call.cid}")
                await self._remove_participant(call, session)
                if call.created_by == user.id or not self._user_joined(call, user.id):
                    self.rings.cancel_by(call, user)
                return p.EmptyResult()
            case p.EndCallRequest():
                await self._end(user, self._call(request.cid))
                return p.EmptyResult()
            case p.RingRequest():
                self._ring(user, self._call(request.cid), request.members)
                return p.EmptyResult()
            case p.AcceptCallRequest():
                self.rings.accept(user, self._call(request.cid))
                return p.EmptyResult()
            case p.RejectCallRequest():
                self.rings.reject(user, self._call(request.cid), request.reason)
                return p.EmptyResult()
            case p.UpdateMuteRequest():
                call = self._call(request.cid)
                participant = call.participants.get(session.key)
                if participant is None:
                    raise InvalidStateError(f"you have not joined {call.cid}")
                participant.audio_muted = request.audio_muted
                event = p.ParticipantMutedEvent(
                    cid=call.cid, user=user, audio_muted=request.audio_muted
                )
                self._send_to_participants(call, event, exclude=session)
                return p.EmptyResult()
            case p.SfuSignalRequest():
                call = self._media_call(session, request.cid)
                if len(request.sdp) > self.limits.max_sdp_bytes:
                    raise MessageTooLargeError(
                        f"an SDP of {len(request.sdp)} bytes is over the "
                        f"{self.limits.max_sdp_bytes}-byte limit"
                    )
                return await self.sfu.signal(session, call, request)
            case p.SfuCandidateRequest():
                call = self._media_call(session, request.cid)
                await self.sfu.add_candidate(session, call, request)
                return p.EmptyResult()
            case p.SfuSubscribeRequest():
                return await self.sfu.subscribe(session, self._media_call(session, request.cid))
            case p.ListCallsRequest():
                return room_directory(self.calls.values(), user.id, session.scope)
            case p.CreateInviteRequest():
                call = self._call(request.cid)
                return create_invite(self._secret, self.limits, session, user, call, request)
        raise BadRequestError(f"unhandled request {request.type!r}")  # pragma: no cover

    # --- helpers ------------------------------------------------------------------------------

    def _require_user(self, session: Session) -> p.UserInfo:
        if session.user is None:
            raise AuthError("not authenticated: send 'hello' with a valid token first")
        if session.expires_at <= time.time():
            raise AuthError("token expired: reconnect with a new token")
        return session.user

    def _verify(self, token: str | None) -> TokenClaims:
        return verify_claims(self._secret, token, max_lifetime_s=self.limits.max_token_lifetime_s)

    def _update_token(self, session: Session, token: str) -> p.TokenResult:
        """Accepted even after the old token expired, for the same user and scope only."""
        if session.user is None:
            raise AuthError("not authenticated: send 'hello' with a valid token first")
        claims = self._verify(token)
        if claims.user_id != session.user.id or claims.call != session.scope:
            raise PermissionDeniedError("a new token must be for the same user and scope")
        session.expires_at = claims.expires_at
        return p.TokenResult(expires_at=claims.expires_at)

    def _check_scope(self, session: Session, request: p.Request) -> None:
        """A call-scoped (guest) token may act only on its call, and never end it, ring or add
        members."""
        scope = session.scope
        if scope is None:
            return
        if isinstance(request, p.EndCallRequest | p.RingRequest):
            raise PermissionDeniedError("a guest token cannot end calls or ring people")
        if isinstance(request, p.GetOrCreateCallRequest) and request.members:
            raise PermissionDeniedError("a guest token cannot add members")
        if isinstance(request, p.GetOrCreateCallRequest | p.JoinCallRequest):
            cid = p.call_cid(request.call_type, request.call_id)
        else:
            cid = getattr(request, "cid", scope)
        if cid != scope:
            raise PermissionDeniedError(f"this token may only join {scope}")

    def _media_call(self, session: Session, cid: str) -> CallRecord:
        """The call a media request is about, which this connection must have joined."""
        call = self._call(cid)
        if session.key not in call.participants:
            raise InvalidStateError(f"join {call.cid} before sending or asking for media")
        return call

    def _call(self, cid: str) -> CallRecord:
        call = self.calls.get(cid)
        if call is None:
            raise CallNotFoundError(f"call {cid} not found")
        return call

    def _user_joined(self, call: CallRecord, user_id: str) -> bool:
        return any(part.user.id == user_id for part in call.participants.values())

    def _get_or_create(
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
            self._owners[cid] = owner
            self._owners.move_to_end(cid)
            while len(self._owners) > MAX_REMEMBERED_OWNERS:
                self._owners.popitem(last=False)
            self._open_calls_of[owner] = self._open_calls_of.get(owner, 0) + 1
        return call

    def _close_count(self, call: CallRecord) -> None:
        left = self._open_calls_of.get(call.created_by, 1) - 1
        if left > 0:
            self._open_calls_of[call.created_by] = left
        else:
            self._open_calls_of.pop(call.created_by, None)

    def _maybe_free(self, call: CallRecord) -> None:
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

    def _add_members(self, call: CallRecord, user: p.UserInfo, members: list[str]) -> None:
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
        default_role: p.MemberRole = (
            p.MemberRole.VIEWER if call.type is p.CallType.LIVESTREAM else p.MemberRole.MEMBER
        )
        for member in new:
            call.members[member] = default_role

    async def _join(
        self, session: Session, user: p.UserInfo, request: p.JoinCallRequest
    ) -> p.JoinResult:
        cid = p.call_cid(request.call_type, request.call_id)
        existed = cid in self.calls and not self.calls[cid].ended
        guest = session.scope is not None
        if guest and not existed:
            # A guest cannot start (or restart) a call: it waits until a member is in it.
            raise CallNotFoundError(f"call {cid} has not started yet")
        call = self._get_or_create(user, request.call_type, request.call_id, request.create)
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
            self._restore_role(call, user, claimed, created=not existed)
        if user.id not in call.members:
            call.members[user.id] = (
                p.MemberRole.VIEWER if call.type is p.CallType.LIVESTREAM else p.MemberRole.MEMBER
            )
        role = call.members[user.id]
        call.participants[session.key] = Participant(session, user, role)
        self._session_calls.setdefault(session.key, set()).add(call.cid)
        ring = call.rings.pop(user.id, None)
        if ring is not None and ring.timer is not None:
            ring.timer.cancel()
        event = p.ParticipantJoinedEvent(cid=call.cid, user=user, role=role)
        self._send_to_participants(call, event, exclude=session)
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

    def _restore_role(
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
            if (
                role is p.MemberRole.HOST and not call.owner_known
            ):  # the creator is back: it owns the call
                self._close_count(call)
                call.created_by, call.owner_known = user.id, True
                self._owners[call.cid] = user.id
                self._open_calls_of[user.id] = self._open_calls_of.get(user.id, 0) + 1

    async def _remove_participant(
        self, call: CallRecord, session: Session, reason: p.LeaveReason = "left"
    ) -> None:
        participant = call.participants.pop(session.key, None)
        if participant is None:
            return
        self._session_calls.get(session.key, set()).discard(call.cid)
        await self.sfu.participant_left(session, call)
        event = p.ParticipantLeftEvent(cid=call.cid, user=participant.user, reason=reason)
        self._send_to_participants(call, event)
        self._maybe_free(call)

    async def _end(self, user: p.UserInfo, call: CallRecord) -> None:
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
            await self._remove_participant(call, participant.session, "ended")
        self._maybe_free(call)

    def _ring(self, caller: p.UserInfo, call: CallRecord, members: list[str]) -> None:
        if call.ended:
            raise CallEndedError(f"call {call.cid} has ended")
        if caller.id not in call.members:
            raise NotAMemberError(f"only members of {call.cid} can ring")
        self._add_members(call, caller, members)
        self.rings.ring(caller, call, members)

    def _sessions_of(self, user_id: str, cid: str) -> list[Session]:
        """``user_id``'s connections that may hear about ``cid`` (a guest's only of its call)."""
        found = (self.sessions.get(k) for k in self._user_sessions.get(user_id, ()))
        return [s for s in found if s is not None and s.scope in (None, cid)]

    def _send_to_participants(
        self, call: CallRecord, message: BaseModel, exclude: Session | None = None
    ) -> None:
        for participant in list(call.participants.values()):
            if participant.session is not exclude:
                participant.session.send(message)
