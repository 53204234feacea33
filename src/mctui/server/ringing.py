"""Ringing: who was rung in which call, by whom, and the timers that turn a ring into a miss.

The coordinator checks who may ring and adds the members; this desk keeps the pending rings
(``CallRecord.rings``), tells callee and caller each outcome (accepted, rejected, cancelled,
missed) on all their connections, and lets the coordinator free a call nobody needs any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mctui import protocol as p
from mctui.errors import InvalidStateError, NotAMemberError
from mctui.server.records import CallRecord, PendingRing, Session


class RingDesk:
    """Every pending ring of one server."""

    def __init__(
        self,
        timeout: float,
        find: Callable[[str], CallRecord | None],
        sessions_of: Callable[[str, str], list[Session]],
        maybe_free: Callable[[CallRecord], None],
    ) -> None:
        self.timeout = timeout
        self._find = find
        self._sessions_of = sessions_of
        self._maybe_free = maybe_free
        self._rang_in: dict[str, set[str]] = {}  # caller user id -> calls they rang in

    def calls_rung_by(self, user_id: str) -> set[str]:
        """Forget (and return) the calls ``user_id`` rang in: they are gone for good."""
        return self._rang_in.pop(user_id, set())

    def ring(self, caller: p.UserInfo, call: CallRecord, members: list[str]) -> None:
        """Ring ``members`` (already members of ``call``) who are not in it yet."""
        self._rang_in.setdefault(caller.id, set()).add(call.cid)
        loop = asyncio.get_running_loop()
        info = call.info()
        for callee in dict.fromkeys(members):
            if callee == caller.id or any(x.user.id == callee for x in call.participants.values()):
                continue
            old = call.rings.pop(callee, None)
            if old is not None and old.timer is not None:
                old.timer.cancel()
            timer = loop.call_later(self.timeout, self._timed_out, call.cid, callee)
            call.rings[callee] = PendingRing(caller=caller, timer=timer)
            for session in self._sessions_of(callee, call.cid):
                session.send(p.CallRingEvent(call=info, caller=caller, timeout_s=self.timeout))

    def _timed_out(self, cid: str, callee: str) -> None:
        call = self._find(cid)
        if call is None:
            return
        ring = call.rings.pop(callee, None)
        if ring is None:
            return
        event = p.CallMissedEvent(cid=cid, user=p.UserInfo(id=callee, name=callee))
        for user_id in (callee, ring.caller.id):
            for session in self._sessions_of(user_id, cid):
                session.send(event)
        self._maybe_free(call)

    def accept(self, user: p.UserInfo, call: CallRecord) -> None:
        if user.id not in call.members:
            raise NotAMemberError(f"you are not a member of {call.cid}; you cannot accept it")
        ring = call.rings.pop(user.id, None)
        if ring is None:
            raise InvalidStateError(f"{call.cid} is not ringing you")
        if ring.timer is not None:
            ring.timer.cancel()
        event = p.CallAcceptedEvent(cid=call.cid, user=user)
        for user_id in (ring.caller.id, user.id):
            for session in self._sessions_of(user_id, call.cid):
                session.send(event)

    def reject(self, user: p.UserInfo, call: CallRecord, reason: p.RejectReason) -> None:
        ring = call.rings.get(user.id)
        if ring is not None:
            del call.rings[user.id]
            if ring.timer is not None:
                ring.timer.cancel()
            event = p.CallRejectedEvent(cid=call.cid, user=user, reason=reason)
            for user_id in (ring.caller.id, user.id):
                for session in self._sessions_of(user_id, call.cid):
                    session.send(event)
            self._maybe_free(call)
            return
        if any(r.caller.id == user.id for r in call.rings.values()):
            self.cancel_by(call, user)
            return
        if user.id not in call.members:
            raise NotAMemberError(f"you are not a member of {call.cid}; you cannot reject it")
        raise InvalidStateError(f"{call.cid} has no ring for you to reject")

    def cancel_by(self, call: CallRecord, caller: p.UserInfo) -> None:
        """The caller cancelled (or left): every callee is told, reason ``cancel``."""
        for callee, ring in list(call.rings.items()):
            if ring.caller.id != caller.id:
                continue
            del call.rings[callee]
            if ring.timer is not None:
                ring.timer.cancel()
            event = p.CallRejectedEvent(cid=call.cid, user=caller, reason="cancel")
            for user_id in (callee, caller.id):
                for session in self._sessions_of(user_id, call.cid):
                    session.send(event)
        self._maybe_free(call)

    def clear(self, call: CallRecord) -> None:
        for ring in call.rings.values():
            if ring.timer is not None:
                ring.timer.cancel()
        call.rings.clear()
