"""The monitoring console's keys on the rooms screen: select a room without moving the focus,
patch the mic into it (t), replay its last seconds (b), record it (w).

A mixin of ``RoomsScreen``: the keys only send intents to the engine (``Call.set_transmit``,
``replay``, ``start_recording`` ...) and say what happened in the status line; the panes show
the result (TX, REPLAY n%, REC badges) from the calls' state."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from mctui.engine import Call

T = TypeVar("T")

#: What ``b`` replays.
REPLAY_SECONDS = 15.0

if TYPE_CHECKING:

    class _Screen:
        _selected_cid: str | None

        def _calls(self) -> list[Call]: ...
        def _selected(self) -> Call | None: ...
        def _selected_or_say(self, key: str) -> Call | None: ...
        def _say(self, hint: str | None, seconds: float = 4.0) -> None: ...
        async def _run(self, action: Awaitable[T]) -> T | None: ...
        def _sync_panes(self) -> None: ...

else:
    _Screen = object


class ConsoleKeys(_Screen):
    """``action_*`` of the console keys (see ``tui.actions``)."""

    async def action_select_next(self) -> None:
        self._select_step(1)

    async def action_select_previous(self) -> None:
        self._select_step(-1)

    def _select_step(self, step: int) -> None:
        calls = self._calls()
        if not calls:
            return
        current = self._selected()
        index = calls.index(current) if current in calls else -1
        chosen = calls[(index + step) % len(calls)]
        self._selected_cid = chosen.cid
        self._sync_panes()
        self._say(f"{chosen.id} selected: t transmit, b replay, w record")

    async def action_transmit(self) -> None:
        call = self._selected_or_say("transmit into")
        if call is None:
            return
        on = not call.state.transmit
        await self._run(call.set_transmit(on))
        if call.state.transmit == on:
            self._say(f"your mic goes into {call.id} too" if on else f"{call.id}: transmit off")

    async def action_replay(self) -> None:
        call = self._selected_or_say("replay")
        if call is None:
            return
        if call.state.replaying is not None:
            await self._run(call.stop_replay())
            return
        await self._run(call.replay(seconds=REPLAY_SECONDS))
        if call.state.replaying is not None:
            self._say(f"replaying {call.id}'s last {REPLAY_SECONDS:g} s: b again to stop")

    async def action_record(self) -> None:
        call = self._selected_or_say("record")
        if call is None:
            return
        recording = call.state.recording
        if recording is not None:
            await self._run(call.stop_recording())
            self._say(f"recorded to {recording}", seconds=8)
            return
        path = await self._run(call.start_recording())
        if path is not None:
            self._say(f"recording {call.id} to {path}", seconds=8)
