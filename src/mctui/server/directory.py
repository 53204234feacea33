"""The room directory: which running calls a connection may join, as ``list_calls`` answers.

Rooms are open by name, so every running call is listed (a guest's connection: only its own
call), with its type, how many are in it and how long it has run. Who is in it is shown to its
members only, as ``get`` shows it. The reply is bounded: the busiest calls first, a count of
the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from mctui import protocol as p
from mctui.server.records import CallRecord

#: Calls one reply lists, and names listed per call: a reply stays far below the frame limit.
MAX_LISTED = 200
MAX_NAMES = 16


def room_directory(
    calls: Iterable[CallRecord], user_id: str, scope: str | None
) -> p.CallListResult:
    """The running calls ``user_id`` (limited to call ``scope`` for a guest) may join."""
    now = time.monotonic()
    rooms = []
    for call in calls:
        if call.ended or not call.participants or (scope is not None and call.cid != scope):
            continue
        people = list({x.user.id: x.user for x in call.participants.values()}.values())
        room = p.RoomInfo(
            cid=call.cid,
            type=call.type,
            id=call.id,
            participant_count=len(people),
            running_s=round(now - call.created_at, 1),
            participants=people[:MAX_NAMES] if user_id in call.members else [],
        )
        rooms.append(room)
    rooms.sort(key=lambda room: (-room.participant_count, room.cid))
    return p.CallListResult(calls=rooms[:MAX_LISTED], more=max(0, len(rooms) - MAX_LISTED))
