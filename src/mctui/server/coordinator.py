"""The coordinator: one entry point for every request from a client, dispatched to the two
books that own the server's state.

- ``SessionBook`` (``server.sessions``): connections, tokens, resume and the grace period;
- ``CallBook`` (``server.call_book``): calls, members, owners, roles, participants, rings;
- the SFU (``SfuBackend``): media.

No networking here: a transport (the aiohttp WebSocket app, or an in-process hub in tests) owns the
connections, hands each incoming text frame to :meth:`Coordinator.handle_text` and delivers what the
coordinator sends through ``Session.send``. Every request gets exactly one reply (the result model
its request names) or one typed error reply; a bad message never affects anyone else's session.
"""

from __future__ import annotations

import logging
from typing import assert_never

from mctui import protocol as p
from mctui.errors import (
    InvalidStateError,
    MctuiError,
    MessageTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    VersionMismatchError,
)
from mctui.server.call_book import DEFAULT_RING_TIMEOUT_S, CallBook
from mctui.server.directory import room_directory
from mctui.server.invites import create_invite
from mctui.server.limits import ServerLimits
from mctui.server.records import CallRecord, NoSfu, Participant, Session, SfuBackend
from mctui.server.requests import decode_frame, request_id_of, validate_request
from mctui.server.sessions import SessionBook
from mctui.server.tally import Tally

__all__ = ["CallRecord", "Coordinator", "NoSfu", "Participant", "Session", "SfuBackend"]

log = logging.getLogger(__name__)

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
        self.tally = Tally()  # what /metrics reports (server.metrics)
        self.connections = SessionBook(secret, self.limits, self.tally)
        self.book = CallBook(
            secret, self.limits, self.sfu, self.tally, self.connections.sessions_of,
            ring_timeout=ring_timeout, ice_servers=ice_servers,
        )  # fmt: skip

    @property
    def calls(self) -> dict[str, CallRecord]:
        """Every call this server holds (the call book's; read only here)."""
        return self.book.calls

    @property
    def sessions(self) -> dict[int, Session]:
        """Every open connection (the session book's; read only here)."""
        return self.connections.sessions

    def attach(self, session: Session) -> None:
        self.connections.attach(session)

    async def detach(self, session: Session, *, lost: bool = False) -> None:
        """The connection closed (``lost``: without a goodbye; see ``SessionBook.detach``)."""
        await self.connections.detach(session, self.book, lost=lost)

    def close(self) -> None:
        """Stop every ring and grace timer (server shutdown)."""
        self.connections.close()
        self.book.close()

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
            user, resumed = self.connections.authenticate(
                session, request.token, request.resume, self.book
            )
            return p.HelloResult(user=user, version=p.PROTOCOL_VERSION, resumed=resumed)
        if isinstance(request, p.UpdateTokenRequest):
            return self.connections.update_token(session, request.token)
        user = self.connections.require_user(session)
        self._check_scope(session, request)
        book = self.book
        match request:
            case p.PingRequest():
                return p.EmptyResult()
            case p.GetOrCreateCallRequest():
                create = request.create and session.scope is None  # guests never create calls
                call = book.get_or_create(user, request.call_type, request.call_id, create)
                book.add_members(call, user, request.members)
                return p.CallResult(call=call.info(for_member=user.id in call.members))
            case p.JoinCallRequest():
                return await book.join(session, user, request)
            case p.LeaveCallRequest():
                await book.leave(session, user, book.call(request.cid))
                return p.EmptyResult()
            case p.EndCallRequest():
                await book.end(user, book.call(request.cid))
                return p.EmptyResult()
            case p.RingRequest():
                book.ring(user, book.call(request.cid), request.members)
                return p.EmptyResult()
            case p.AcceptCallRequest():
                book.rings.accept(user, book.call(request.cid))
                return p.EmptyResult()
            case p.RejectCallRequest():
                book.rings.reject(user, book.call(request.cid), request.reason)
                return p.EmptyResult()
            case p.UpdateMuteRequest():
                book.set_muted(session, user, book.call(request.cid), request.audio_muted)
                return p.EmptyResult()
            case p.SfuSignalRequest():
                call = book.media_call(session, request.cid)
                if len(request.sdp) > self.limits.max_sdp_bytes:
                    raise MessageTooLargeError(
                        f"an SDP of {len(request.sdp)} bytes is over the "
                        f"{self.limits.max_sdp_bytes}-byte limit"
                    )
                return await self.sfu.signal(session, call, request)
            case p.SfuCandidateRequest():
                call = book.media_call(session, request.cid)
                await self.sfu.add_candidate(session, call, request)
                return p.EmptyResult()
            case p.SfuSubscribeRequest():
                return await self.sfu.subscribe(session, book.media_call(session, request.cid))
            case p.ListCallsRequest():
                return room_directory(book.calls.values(), user.id, session.scope)
            case p.CreateInviteRequest():
                call = book.call(request.cid)
                return create_invite(self._secret, self.limits, session, user, call, request)
        assert_never(request)

    # --- permissions -------------------------------------------------------------------------

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
