"""Rooms named on a command line, and joining several at once the way the UIs do."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mctui.engine.call import Call
from mctui.engine.client import Client
from mctui.engine.types import CallType, ConnectOptions, TrackOption
from mctui.errors import MctuiError
from mctui.names import RoomNameError, split_room

__all__ = ["RoomNameError", "join_rooms", "leave_room", "parse_room"]


def parse_room(text: str) -> tuple[CallType, str]:
    """``"livestream:show"`` -> (CallType.LIVESTREAM, "show"); raises ``RoomNameError``."""
    kind, name = split_room(text)
    return CallType(kind), name


async def join_rooms(
    client: Client,
    rooms: Iterable[tuple[CallType, str]],
    on_call: Callable[[Call], None] = lambda call: None,
    on_error: Callable[[Call, MctuiError], None] | None = None,
) -> None:
    """Join ``rooms``: the first in the foreground, the others with the mic off (the cookbook's
    background join); then the first takes the audio back as the policy says a resume does
    (under ``MANUAL`` that suspends nobody: every room stays live, the mic in the first only).

    ``on_call`` sees each call before it joins. A failed join raises, unless ``on_error`` is
    given: then it is told and the other rooms are still joined.
    """
    first: Call | None = None
    for index, (call_type, name) in enumerate(rooms):
        call = client.make_call(call_type, name)
        on_call(call)
        mic = TrackOption.default() if index == 0 else TrackOption.disabled()
        try:
            await call.join(connect_options=ConnectOptions(microphone=mic))
        except MctuiError as exc:
            if on_error is None:
                raise
            on_error(call, exc)
            continue
        first = first or call
    if first is not None and client.state.focused_call not in (first, None):
        await first.resume_audio()


async def leave_room(client: Client, call: Call) -> Call | None:
    """Leave ``call``. If it had the focus and the policy gives the audio to no other room
    (suspend-incoming and manual resume nothing by themselves), the room that held the focus
    most recently before it (else the newest; never one the user suspended by hand) takes it,
    mic included, as the cookbook tells UIs to do: a user who leaves the room they talk in is
    not left hearing nothing. Returns that room, if one was given the focus."""
    had_focus = client.state.focused_call is call
    await call.leave()
    if not had_focus or client.state.focused_call is not None:
        return None
    remaining = [c for c in client.state.active_calls if not c.suspended_by_user]
    if not remaining:
        return None
    held = client.focus.most_recent_holder(remaining)
    target = held if isinstance(held, Call) else remaining[-1]
    await client.switch_focus(None, target)
    return target
