"""Rooms named on a command line, and joining several at once the way the UIs do."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mctui.engine.call import Call
from mctui.engine.client import Client
from mctui.engine.types import CallType, ConnectOptions, TrackOption
from mctui.errors import MctuiError
from mctui.names import RoomNameError, split_room

__all__ = ["RoomNameError", "join_rooms", "parse_room"]


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
