"""Guests' invites: a member of a call asks the server for a guest token scoped to that call.

The guest page (``server/web``) joins with it; ``mctui invite`` signs the same kind of token
itself (``tokens.issue_guest_token`` serves both).
"""

from __future__ import annotations

import time

from mctui import protocol as p
from mctui.errors import CallEndedError, NotAMemberError, PermissionDeniedError
from mctui.server.limits import ServerLimits
from mctui.server.records import CallRecord, Session
from mctui.server.tokens import issue_guest_token


def create_invite(
    secret: str,
    limits: ServerLimits,
    session: Session,
    user: p.UserInfo,
    call: CallRecord,
    request: p.CreateInviteRequest,
) -> p.InviteResult:
    """A guest token for ``call``, for a member of it (a guest cannot invite others), living
    at most as long as the server lets any token live."""
    if session.scope is not None:
        raise PermissionDeniedError("a guest cannot invite others")
    if call.ended:
        raise CallEndedError(f"call {call.cid} has ended")
    if user.id not in call.members:
        raise NotAMemberError(f"only members of {call.cid} can invite guests")
    ttl = min(request.ttl_s, limits.max_token_lifetime_s)
    guest_id, token = issue_guest_token(
        secret, call.cid, request.name, ttl, max_lifetime_s=limits.max_token_lifetime_s
    )
    result = p.InviteResult(
        token=token, guest_id=guest_id, expires_at=time.time() + ttl, base_url=limits.public_url
    )
    return result
