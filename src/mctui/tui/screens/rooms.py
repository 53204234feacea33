"""The main screen: one pane per joined room, the status line and the footer.

It is created with a connected client and owns the room keys, so they never fire behind a modal
(help, join, ring). The engine's changes arrive through the engine bridge as ``EngineEvent``
messages (level updates replaceable); keys become calls to the public engine API.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar, TypeVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from mctui.engine import Call, Client, MultiCallAudioPolicy
from mctui.engine.bridge import (
    BridgeEvent,
    CallChanged,
    CallJoined,
    CallLeft,
    ConnectionChanged,
    EngineBridge,
    FocusChanged,
    LevelsChanged,
    Notice,
    RingChanged,
)
from mctui.engine.pauses import PauseGuard
from mctui.engine.rooms import join_rooms, leave_room, parse_room
from mctui.engine.state import ClientConnection
from mctui.engine.volumes import step as volume_step
from mctui.errors import MctuiError
from mctui.tui.actions import DEFAULT_KEYS, ROOM_KEYS, room_binding_id
from mctui.tui.keymap import build_bindings
from mctui.tui.messages import EngineEvent
from mctui.tui.notify import notification
from mctui.tui.screens.console_keys import ConsoleKeys
from mctui.tui.screens.devices import DeviceScreen
from mctui.tui.screens.help import HelpScreen, help_text
from mctui.tui.screens.invite import InviteScreen
from mctui.tui.screens.join import JoinScreen
from mctui.tui.screens.ring import RingScreen, describe_preview
from mctui.tui.textual_private import write_to_terminal
from mctui.tui.widgets.room_pane import ActivitySource, LevelSource, RoomPane, volume_text
from mctui.tui.widgets.status_bar import StatusBar

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How often the meters are read and drawn while something moves (a film's rate, not more).
DISPLAY_HZ = 20

POLICY_CYCLE = [
    MultiCallAudioPolicy.SUSPEND_EXISTING,
    MultiCallAudioPolicy.SUSPEND_INCOMING,
    MultiCallAudioPolicy.MANUAL,
    MultiCallAudioPolicy.DUCK_EXISTING,
]


def grid_columns(rooms: int, width: int) -> int:
    """Columns for ``rooms`` panes: near-square, but never panes narrower than ~38 cells."""
    if rooms <= 1:
        return 1
    by_width = max(1, width // 38)
    return max(1, min(by_width, math.ceil(math.sqrt(rooms)), rooms))


class RoomsScreen(ConsoleKeys, Screen[None]):
    """The rooms of one connected client."""

    BINDINGS: ClassVar[list[Binding]] = build_bindings()  # type: ignore[assignment]
    inherit_bindings = False  # Tab is "next room" here, not "next widget"

    def __init__(
        self,
        client: Client,
        rooms: list[str],
        *,
        log_path: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        levels: LevelSource | None = None,
        activity: ActivitySource | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
        on_lost: Callable[[str], None] | None = None,
        notifications: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        #: Desktop notifications through the terminal when a call rings (``tui.notify``).
        self.notifications = notifications
        self._on_lost = on_lost
        self._initial_rooms = [parse_room(r) for r in rooms]
        self._log_path = log_path
        self._clock = clock
        self._levels = levels
        self._activity = activity
        self._on_ready = on_ready
        self.hint: str | None = None
        self.ready = False
        self._panes: dict[str, RoomPane] = {}
        self._ring_open: Call | None = None
        self._selected_cid: str | None = None
        self._followed_focus: Call | None = None
        self.pauses = PauseGuard()
        self.bridge = EngineBridge(client, self._post_engine_event, on_levels=self._levels_moved)
        #: The calls whose levels moved since the display last looked.
        self._moving: set[str] = set()
        self._display: Timer | None = None
        self._display_paused = True

    def _post_engine_event(self, event: BridgeEvent) -> None:
        self.pauses.observe(event)  # at once, before the screen handles it
        self.post_message(EngineEvent(event))

    def compose(self) -> ComposeResult:
        yield Static(" mctui  [dim]multicall voice[/]", id="title-bar")
        yield Grid(id="rooms")
        yield Static("No rooms yet: press [b]j[/] to join one.", id="empty")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._display = self.set_interval(1 / DISPLAY_HZ, self._paint_levels, pause=True)
        self.bridge.start()
        self._show_status()
        self._join_initial_rooms()

    def on_unmount(self) -> None:
        self.bridge.close()

    @work(exclusive=True, group="join")
    async def _join_initial_rooms(self) -> None:
        def failed(call: Call, exc: MctuiError) -> None:
            log.error("joining %s failed: %s", call.cid, exc)
            self.notify(f"{call.id}: {exc}{self._log_hint()}", severity="error")

        await join_rooms(self.client, self._initial_rooms, self.bridge.watch, failed)
        self.ready = True
        self._sync_panes()
        if self._on_ready is not None:
            await self._on_ready()

    def _log_hint(self) -> str:
        return f" (log: {self._log_path})" if self._log_path else ""

    # --- engine events ------------------------------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        match message.event:
            case CallJoined() | CallLeft() | FocusChanged():
                self._sync_panes()
            case CallChanged(call=call):
                pane = self._panes.get(call.cid)
                if pane is not None:
                    pane.refresh_call()
                self._show_status()
            case LevelsChanged(call=call):  # a sender without the display timer's pull
                self._levels_moved(call)
            case RingChanged():
                self._ring_changed()
            case Notice(text=text, severity=severity):
                log.warning("%s", text)
                self.notify(text + self._log_hint(), severity=severity, timeout=8)
            case ConnectionChanged(connection=ClientConnection.DISCONNECTED):
                self._show_status()
                error = self.client.connection_error
                if error is not None and self._on_lost is not None:
                    self._on_lost(error.message)  # reconnecting gave up
            case ConnectionChanged():
                self._show_status()

    # --- rendering ----------------------------------------------------------------------------

    def _levels_moved(self, call: Call) -> None:
        """The engine moved ``call``'s levels (up to 25 Hz per call): note it, and wake the
        display timer if it sleeps. No message per move: the display reads them at its rate."""
        self._moving.add(call.cid)
        if self._display_paused and self._display is not None:
            self._display_paused = False
            self._display.resume()

    @property
    def display_awake(self) -> bool:
        """Whether the display timer reads the meters now (something moved, or a peak marker
        is still to fall); asleep, the screen costs nothing while the rooms are silent."""
        return not self._display_paused

    def _paint_levels(self) -> None:
        """The display tick: the meters of rooms whose levels moved, or whose peak marker is
        due to fall; then sleep until something moves again."""
        moving, self._moving = self._moving, set()
        holding = False
        for cid, pane in self._panes.items():
            if (cid in moving or pane.holding_peak) and pane.is_mounted:
                pane.refresh_levels()
                holding = holding or pane.holding_peak
        if not moving and not holding and self._display is not None:
            self._display_paused = True
            self._display.pause()

    def _grid(self) -> Grid | None:
        return next(self.query("#rooms").results(Grid), None)

    def _sync_panes(self) -> None:
        grid = self._grid()
        if grid is None:
            return
        active = self.client.state.active_calls
        for cid in [cid for cid in self._panes if cid not in {c.cid for c in active}]:
            self._panes.pop(cid).remove()
        focused = self.client.state.focused_call
        if focused is not None and focused is not self._followed_focus:
            self._selected_cid = focused.cid  # the selection follows the focus when it moves
        self._followed_focus = focused
        for number, call in enumerate(active, start=1):
            pane = self._panes.get(call.cid)
            if pane is None:
                pane = RoomPane(
                    call,
                    number,
                    is_focused=self._is_focused,
                    is_selected=self._is_selected,
                    clock=self._clock,
                    levels=self._levels,
                    activity=self._activity,
                )
                self._panes[call.cid] = pane
                grid.mount(pane)
            pane.number = number
            pane.refresh_call()
        for empty in self.query("#empty"):
            empty.display = not active
        grid.display = bool(active)
        self.layout_grid()
        self._show_status()

    def _show_status(self) -> None:
        """Messages can still arrive while the app shuts down: draw only what is there."""
        for bar in self.query(StatusBar):
            bar.show(self.client, self.hint)

    def _is_focused(self, call: Call) -> bool:
        return self.client.state.focused_call is call

    def _is_selected(self, call: Call) -> bool:
        return self._selected() is call

    def layout_grid(self) -> None:
        """Columns and rows for the panes at the current width (on every resize, at once)."""
        grid = self._grid()
        if grid is None:
            return
        count = max(1, len(self._panes))
        columns = grid_columns(count, self.app.size.width)
        rows = math.ceil(count / columns)
        if (grid.styles.grid_size_columns, grid.styles.grid_size_rows) != (columns, rows):
            grid.styles.grid_size_columns = columns
            grid.styles.grid_size_rows = rows
            grid.refresh(layout=True)

    def on_resize(self, event: events.Resize) -> None:
        self.call_later(self.layout_grid)

    def _ring_changed(self) -> None:
        incoming = self.client.state.incoming_call
        if incoming is None or incoming is self._ring_open:
            if incoming is None and self._ring_open is not None:
                for screen in self.app.screen_stack:
                    if isinstance(screen, RingScreen):
                        screen.dismiss(None)  # type: ignore[arg-type]
            return
        self._ring_open = incoming
        ring = incoming.state.ringing
        caller = ring.caller.display_name if ring else "?"
        consequence = describe_preview(self.client.preview_set_active(incoming))
        self.app.bell()
        self._notify_desktop(f"{caller} is calling", f"{incoming.id}: a to accept, r to reject")
        self.app.push_screen(
            RingScreen(caller, incoming.id, consequence, ring.expires_at if ring else None),
            self._answer_ring,
        )

    def _notify_desktop(self, title: str, body: str) -> None:
        """A desktop notification through the terminal, when the config allows and the
        terminal speaks a dialect (``tui.notify``), written between frames."""
        if self.notifications:
            write_to_terminal(self.app, notification(title, body))

    async def _answer_ring(self, accept: bool | None) -> None:
        call, self._ring_open = self._ring_open, None
        if call is None or accept is None or call.state.ringing is None:
            return
        await self._run(call.accept() if accept else call.reject(reason="decline"))

    # --- intents ------------------------------------------------------------------------------

    async def _run(self, action: Awaitable[T]) -> T | None:
        """``action``'s result; an engine error is said (notification, status) and gives None."""
        try:
            return await action
        except MctuiError as exc:
            log.error("%s", exc)
            self.notify(f"{exc}{self._log_hint()}", severity="error")
            self._say(f"failed: {exc}", seconds=8)
            return None

    def _calls(self) -> list[Call]:
        return list(self.client.state.active_calls)

    def _selected(self) -> Call | None:
        """The room keys act on: the selected room (it follows the focus; ← and → move it
        without moving the focus), else the focused one, else the first (so a second ``s``
        resumes the room the first one suspended)."""
        calls = self._calls()
        if not calls:
            return None
        chosen = next((c for c in calls if c.cid == self._selected_cid), None)
        return chosen or self.client.state.focused_call or calls[0]

    def _say(self, hint: str | None, seconds: float = 4.0) -> None:
        """A short hint at the end of the status line, gone after ``seconds``."""
        self.hint = hint
        self._show_status()
        if hint is not None:
            self.set_timer(seconds, lambda: self._say(None) if self.hint == hint else None)

    async def focus_room(self, target: Call) -> None:
        self._selected_cid = target.cid
        self._say(None)
        await self._run(self.client.switch_focus(self.client.state.focused_call, target))

    async def on_room_pane_clicked(self, message: RoomPane.Clicked) -> None:
        call = next((c for c in self._calls() if c.cid == message.cid), None)
        if call is not None:
            await self.focus_room(call)

    async def action_room_index(self, index: int) -> None:
        calls = self._calls()
        if 0 <= index < len(calls):
            await self.focus_room(calls[index])
        else:
            joined = f"{len(calls)} room{'s' if len(calls) != 1 else ''} joined"
            self._say(f"no room {index + 1}: {joined}")

    async def _focus_step(self, step: int) -> None:
        calls = self._calls()
        if not calls:
            return
        current = self._selected()
        index = calls.index(current) if current is not None and current in calls else -1
        await self.focus_room(calls[(index + step) % len(calls)])

    async def action_room_next(self) -> None:
        await self._focus_step(1)

    async def action_room_previous(self) -> None:
        await self._focus_step(-1)

    def _selected_or_say(self, key: str) -> Call | None:
        """The selected room, or None after saying there is none to act on."""
        call = self._selected()
        if call is None:
            self._say(f"no room to {key}: join one with j")
        return call

    async def action_mute(self) -> None:
        call = self._selected_or_say("mute")
        if call is None:
            return
        if not call.state.can_publish:
            self._say(f"you are a viewer in {call.id}: nothing of yours is sent there")
            return
        await self._run(call.set_microphone_enabled(not call.state.microphone_enabled))

    async def action_volume_up(self) -> None:
        await self._volume(+1)

    async def action_volume_down(self) -> None:
        await self._volume(-1)

    async def _volume(self, steps: int) -> None:
        call = self._selected_or_say("change the volume of")
        if call is not None:
            kept = await call.set_volume_db(volume_step(call.state.volume_db, steps))
            self._say(f"{call.id}: {volume_text(kept).lower() if kept else 'normal volume'}")

    async def action_suspend(self) -> None:
        call = self._selected_or_say("suspend")
        if call is None:
            return
        self._selected_cid = call.cid
        if call.state.is_audio_suspended:
            await self._run(call.resume_audio())
        else:
            await self._run(call.suspend_audio())
            self._say(f"{call.id} suspended: s again to hear it")

    async def action_leave(self) -> None:
        call = self._selected_or_say("leave")
        if call is None:
            return
        took = await self._run(leave_room(self.client, call))
        if took is not None:
            self._say(f"left {call.id}: {took.id} has the focus now")

    async def action_devices(self) -> None:
        """The device dialog, listed by a fresh PortAudio (``audio.sounddevice_backend``)."""
        from mctui.audio.sounddevice_backend import fresh_devices

        backend = self.client.audio.backend
        in_use: dict[str, str | None] = {}
        for kind in ("input", "output"):
            device = getattr(backend, f"{kind}_device", None)
            in_use[kind] = None if device is None else str(device)
        self.app.push_screen(DeviceScreen(await fresh_devices(), in_use), self._device_chosen)

    async def _device_chosen(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        kind, name = choice  # "input" or "output": set_devices's own keywords
        await self._run(self.client.audio.set_devices(**{kind: name}))

    async def action_invite(self) -> None:
        call = self._selected()
        if call is None:
            self._say("join a room first, then press i to invite someone to it")
            return
        try:
            invite = await call.invite()
        except MctuiError as exc:
            log.error("inviting to %s failed: %s", call.cid, exc)
            self.notify(f"{call.id}: cannot invite: {exc}{self._log_hint()}", severity="error")
            return
        self.app.push_screen(InviteScreen(call.id, invite))

    async def action_join(self) -> None:
        """The join dialog with the room directory (empty if the server cannot give it)."""
        rooms = await self._run(self.client.list_calls()) or []
        joined = {c.cid for c in self._calls()}
        self.app.push_screen(
            JoinScreen([r for r in rooms if r.cid not in joined]), self._join_named
        )

    async def _join_named(self, text: str | None) -> None:
        if not text:
            return
        try:
            call_type, name = parse_room(text)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        await self._run(self.client.make_call(call_type, name).join())

    async def action_accept(self) -> None:
        incoming = self.client.state.incoming_call
        if incoming is None:
            self._say("no call is ringing: nothing to accept")
            return
        await self._run(incoming.accept())

    async def action_reject(self) -> None:
        incoming = self.client.state.incoming_call
        if incoming is None:
            self._say("no call is ringing: nothing to reject")
            return
        await self._run(incoming.reject(reason="decline"))

    def action_cycle_policy(self) -> None:
        current = POLICY_CYCLE.index(self.client.multi_call_audio_policy)
        self.client.set_multi_call_audio_policy(POLICY_CYCLE[(current + 1) % len(POLICY_CYCLE)])
        self._sync_panes()
        self.notify(f"policy: {self.client.multi_call_audio_policy.value.replace('_', '-')}")

    def key_table(self) -> list[tuple[str, str]]:
        """(key, what it does) for each action, as bound now (after the user's keymap)."""
        rows: list[tuple[str, str]] = []
        bound = [active.binding for active in self.active_bindings.values()]
        for action in DEFAULT_KEYS:
            keys = [self.app.get_key_display(b) for b in bound if b.id == action.id]
            rows.append((" / ".join(keys) or "(unbound)", action.help))
        digit_ids = {room_binding_id(n) for n in range(1, ROOM_KEYS + 1)}
        digits = [self.app.get_key_display(b) for b in bound if b.id in digit_ids]
        if digits:
            rows.insert(2, (f"{digits[0]}-{digits[-1]}", "Move mic and speaker to room 1-9"))
        return rows

    def action_help(self) -> None:
        text = help_text(self.key_table(), self.client.options.duck_gain_db)
        self.app.push_screen(HelpScreen(text))

    async def action_quit(self) -> None:
        await self.app.action_quit()  # the app leaves every call, then exits
