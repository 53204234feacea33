"""The connections of one server: who each is (its signed token), how many a user may have,
and how a lost one keeps its place for a grace period so its client can resume it.

The session book owns the ``Session`` registry, the per-user index and the resumable table; what
a connection's calls are is the call book's (``server.call_book``), which it asks to move a
resumed participant, mark a lost one away, or leave a dead one's calls.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mctui import protocol as p
from mctui.errors import AuthError, LimitReachedError, PermissionDeniedError
from mctui.server.call_book import CallBook
from mctui.server.limits import ServerLimits, TokenBucket
from mctui.server.records import Session
from mctui.server.tally import Tally
from mctui.server.tokens import TokenClaims, verify_claims

log = logging.getLogger(__name__)


class SessionBook:
    """Open connections, their users, and the lost ones waiting to be resumed."""

    def __init__(self, secret: str, limits: ServerLimits, tally: Tally) -> None:
        self._secret = secret
        self.limits = limits
        self.tally = tally
        self.sessions: dict[int, Session] = {}
        self._user_sessions: dict[str, set[int]] = {}
        #: (user id, resume id) -> the connection a reconnecting client takes over: open ones,
        #: and lost ones in their grace period.
        self._resumable: dict[tuple[str, str], Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def sessions_of(self, user_id: str, cid: str) -> list[Session]:
        """``user_id``'s connections that may hear about ``cid`` (a guest's only of its call)."""
        found = (self.sessions.get(k) for k in self._user_sessions.get(user_id, ()))
        return [s for s in found if s is not None and s.scope in (None, cid)]

    # --- opening and identifying --------------------------------------------------------------

    def attach(self, session: Session) -> None:
        self.sessions[session.key] = session
        self.tally.connections_opened += 1
        session.bucket = TokenBucket(self.limits.messages_per_second, self.limits.message_burst)

    def _verify(self, token: str | None) -> TokenClaims:
        return verify_claims(self._secret, token, max_lifetime_s=self.limits.max_token_lifetime_s)

    def authenticate(
        self, session: Session, token: str | None, resume: str | None, calls: CallBook
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
        self._take_over(previous, session, calls)
        return user, True

    def require_user(self, session: Session) -> p.UserInfo:
        if session.user is None:
            raise AuthError("not authenticated: send 'hello' with a valid token first")
        if session.expires_at <= time.time():
            raise AuthError("token expired: reconnect with a new token")
        return session.user

    def update_token(self, session: Session, token: str) -> p.TokenResult:
        """Accepted even after the old token expired, for the same user and scope only."""
        if session.user is None:
            raise AuthError("not authenticated: send 'hello' with a valid token first")
        claims = self._verify(token)
        if claims.user_id != session.user.id or claims.call != session.scope:
            raise PermissionDeniedError("a new token must be for the same user and scope")
        session.expires_at = claims.expires_at
        return p.TokenResult(expires_at=claims.expires_at)

    def _take_over(self, old: Session, new: Session, calls: CallBook) -> None:
        """``new`` becomes the connection ``old`` was, in every call (see
        ``CallBook.move_participant``)."""
        if old.grace is not None:
            old.grace.cancel()
            old.grace = None
        if self.sessions.pop(old.key, None) is not None:  # still open: the client gave up on it
            self._forget_connection(old)
            old.drop()
        old.replaced = True
        moved = calls.move_participant(old, new)
        log.info("%s resumed %d call(s) on a new connection", new.user, moved)
        self.tally.resumes += 1

    # --- closing ------------------------------------------------------------------------------

    def _forget_connection(self, session: Session) -> None:
        if session.user is not None:
            keys = self._user_sessions.get(session.user.id, set())
            keys.discard(session.key)
            if not keys:
                self._user_sessions.pop(session.user.id, None)

    async def detach(self, session: Session, calls: CallBook, *, lost: bool = False) -> None:
        """The connection closed. Closed by the client (it quit, or its process died): its
        calls are left now. ``lost`` (no answer to the heartbeat, a network error): with a
        resume id, its places are kept for the grace period and the others see it ``away``."""
        self.sessions.pop(session.key, None)
        if session.replaced:
            return
        self._forget_connection(session)
        in_calls = bool(calls.calls_of(session))
        if lost and session.resume_id and in_calls and session.user is not None and not self.closed:
            calls.set_away(session, True)
            self.tally.connections_lost += 1
            session.grace = asyncio.get_running_loop().call_later(
                self.limits.reconnect_grace_s, self._grace_over, session, calls
            )
            log.info("%s lost its connection; keeping its place for %g s", session.user,
                     self.limits.reconnect_grace_s)  # fmt: skip
            return
        await self._drop_session(session, calls, "disconnected")

    def _grace_over(self, session: Session, calls: CallBook) -> None:
        session.grace = None
        drop = self._drop_session(session, calls, "timeout")
        task = asyncio.get_running_loop().create_task(drop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_session(self, session: Session, calls: CallBook, reason: p.LeaveReason) -> None:
        """``session`` is gone for good: leave its calls and cancel the rings it started."""
        if session.user is not None and session.resume_id:
            key = (session.user.id, session.resume_id)
            if self._resumable.get(key) is session:
                del self._resumable[key]
        await calls.leave_all(session, reason)
        if session.user is not None and session.user.id not in self._user_sessions:
            calls.cancel_rings_by(session.user)

    def close(self) -> None:
        """Stop every grace timer and pending drop (server shutdown)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for waiting in list(self._resumable.values()):
            if waiting.grace is not None:
                waiting.grace.cancel()
                waiting.grace = None
