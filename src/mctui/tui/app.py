"""The Textual app: one pane per joined room, live meters, focus keys, ringing.

The app owns no call logic: keys become calls to the public engine API (``switch_focus``,
``set_microphone_enabled``...), and engine observables come back as messages (level updates
replaceable) that make the widgets re-render. Engine and UI share one asyncio loop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from mctui.engine import (
    Call,
    Client,
    MultiCallAudioPolicy,
)
from mctui.engine.rooms import join_rooms, parse_room
from mctui.errors import MctuiError
from mctui.tui.actions import DEFAULT_KEYS, ROOM_KEYS, check_keymap, room_binding_id
from mctui.tui.keymap import build_bindings
from mctui.tui.messages import CallChanged, CallsChanged, LevelsChanged, NoticeChanged, RingChanged
from mctui.tui.screens.help import HelpScreen, help_text
from mctui.tui.screens.join import JoinScreen
from mctui.tui.screens.ring import RingScreen, describe_preview
from mctui.tui.widgets.room_pane import LevelSource, RoomPane
from mctui.tui.widgets.status_bar import StatusBar

ClientFactory = Callable[[], Awaitable[Client]]
POLICY_CYCLE = [
    MultiCallAudioPolicy.SUSPEND_EXISTING,
    MultiCallAudioPolicy.SUSPEND_INCOMING,
    MultiCallAudioPolicy.MANUAL,
    MultiCallAudioPolicy.DUCK_EXISTING,
]
_CALL_FIELDS = (
    "audio_mode",
    "microphone_enabled",
    "connection",
    "holds_microphone",
    "holds_speaker",
    "is_capturing",
    "ringing",
    "outgoing_ring",
)
log = logging.getLogger(__name__)


def grid_columns(rooms: int, width: int) -> int:
    """Columns for ``rooms`` panes: near-square, but never panes narrower than ~38 cells."""
    if rooms <= 1:
        return 1
    by_width = max(1, width // 38)
    return max(1, min(by_width, math.ceil(math.sqrt(rooms)), rooms))


class RoomsScreen(Screen[None]):
    """The main screen: the room grid, the status line and the footer.

    The room keys live here, not on the app, so they never fire behind a modal (help, join,
    ring); only the app's own priority keys (Ctrl+Q, Ctrl+C) do.
    """

    BINDINGS: ClassVar[list[Binding]] = build_bindings()  # type: ignore[assignment]
    inherit_bindings = False  # Tab is "next room" here, not "next widget"

    def compose(self) -> ComposeResult:
        yield Static(" mctui  [dim]multicall voice[/]", id="title-bar")
        yield Grid(id="rooms")
        yield Static("No rooms yet: press [b]j[/] to join one.", id="empty")
        yield StatusBar(id="status")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.app.call_later(self._relayout)

    def _relayout(self) -> None:
        app = self.app
        if isinstance(app, MctuiApp):
            app.layout_grid()


class MctuiApp(App[None]):
    """mctui's terminal UI."""

    CSS_PATH = "mctui.tcss"
    TITLE = "mctui"

    def __init__(
        self,
        connect: ClientFactory,
        rooms: Iterable[str] = (),
        *,
        keymap: Mapping[str, str] | None = None,
        log_path: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        levels: LevelSource | None = None,
        on_ready: Callable[[MctuiApp], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__()
        self._connect = connect
        self._initial_rooms = [parse_room(r) for r in rooms]
        self._clock = clock
        self._levels = levels
        self._on_ready = on_ready
        self.log_path = log_path
        self.client: Client | None = None
        self.hint: str | None = None
        #: Why the app ended on its own (cannot connect), for the command line's one-line error.
        self.failure: str | None = None
        self.ready = False
        self._panes: dict[str, RoomPane] = {}
        self._watched: set[str] = set()
        self._ring_open: Call | None = None
        self._selected_cid: str | None = None
        self.rooms_screen = RoomsScreen()
        if keymap:
            check_keymap(dict(keymap))
            self.set_keymap(dict(keymap))

    def get_default_screen(self) -> Screen[None]:
        return self.rooms_screen

    def on_mount(self) -> None:
        self._show_status()
        self._start()

    @work(exclusive=True, group="start")
    async def _start(self) -> None:
        try:
            self.client = await self._connect()
        except MctuiError as exc:
            log.error("cannot connect: %s", exc)
            self.failure = str(exc)
            self.exit(return_code=1)
            return
        client = self.client
        client.state.observe("active_calls").listen(lambda _: self.post_message(CallsChanged()))
        client.state.observe("focused_call").listen(lambda _: self.post_message(CallsChanged()))
        client.state.observe("incoming_call").listen(lambda _: self.post_message(RingChanged()))
        client.state.observe("audio_notice").listen(
            lambda n: self.post_message(NoticeChanged(n)) if n else None
        )
        client.state.observe("audio_error").listen(
            lambda e: self.post_message(NoticeChanged(e, "error")) if e else None
        )
        if client.state.audio_notice:
            self.post_message(NoticeChanged(client.state.audio_notice))

        def failed(call: Call, exc: MctuiError) -> None:
            log.error("joining %s failed: %s", call.cid, exc)
            self.notify(f"{call.id}: {exc}", severity="error")

        await join_rooms(client, self._initial_rooms, self._watch, failed)
        self.ready = True
        self._sync_panes()
        if self._on_ready is not None:
            await self._on_ready(self)

    def _log_hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""

    def _watch(self, call: Call) -> None:
        if call.cid in self._watched:
            return
        self._watched.add(call.cid)
        cid = call.cid

        def changed(_: object) -> None:
            self.post_message(CallChanged(cid))

        def levels(_: object) -> None:
            self.post_message(LevelsChanged(cid))

        for name in _CALL_FIELDS:
            call.state.observe(name).listen(changed)
        call.state.observe("participants").listen(levels)

    # --- rendering ----------------------------------------------------------------------------

    def _grid(self) -> Grid | None:
        return next(self.rooms_screen.query("#rooms").results(Grid), None)

    def _sync_panes(self) -> None:
        grid = self._grid()
        if self.client is None or grid is None:
            return
        active = self.client.state.active_calls
        for cid in [cid for cid in self._panes if cid not in {c.cid for c in active}]:
            self._panes.pop(cid).remove()
        for number, call in enumerate(active, start=1):
            self._watch(call)
            pane = self._panes.get(call.cid)
            if pane is None:
                pane = RoomPane(
                    call,
                    number,
                    is_focused=self._is_focused,
                    clock=self._clock,
                    levels=self._levels,
                )
                self._panes[call.cid] = pane
                grid.mount(pane)
            pane.number = number
            pane.refresh_call()
        for empty in self.rooms_screen.query("#empty"):
            empty.display = not active
        grid.display = bool(active)
        focused = self.client.state.focused_call
        if focused is not None:
            self._selected_cid = focused.cid
        self.layout_grid()
        self._show_status()

    def _show_status(self) -> None:
        """Messages can still arrive while the app shuts down: draw only what is there."""
        for bar in self.rooms_screen.query(StatusBar):
            bar.show(self.client, self.hint)

    def _is_focused(self, call: Call) -> bool:
        return self.client is not None and self.client.state.focused_call is call

    def layout_grid(self) -> None:
        """Columns and rows for the panes at the current width (on every resize, at once)."""
        grid = self._grid()
        if grid is None:
            return
        count = max(1, len(self._panes))
        columns = grid_columns(count, self.size.width)
        rows = math.ceil(count / columns)
        if (grid.styles.grid_size_columns, grid.styles.grid_size_rows) != (columns, rows):
            grid.styles.grid_size_columns = columns
            grid.styles.grid_size_rows = rows
            grid.refresh(layout=True)

    def on_calls_changed(self, message: CallsChanged) -> None:
        self._sync_panes()

    def on_call_changed(self, message: CallChanged) -> None:
        pane = self._panes.get(message.cid)
        if pane is not None:
            pane.refresh_call()
        self._show_status()

    async def on_room_pane_clicked(self, message: RoomPane.Clicked) -> None:
        call = next((c for c in self._calls() if c.cid == message.cid), None)
        if call is not None:
            await self._focus(call)

    def on_levels_changed(self, message: LevelsChanged) -> None:
        pane = self._panes.get(message.cid)
        if pane is not None and pane.is_mounted:
            pane.refresh_levels()

    def on_notice_changed(self, message: NoticeChanged) -> None:
        """Notices (no audio device, a device lost) are a toast and a log line, not status."""
        log.warning("%s", message.notice)
        if message.severity == "error":
            self.notify(message.notice + self._log_hint(), severity="error", timeout=8)
        else:
            self.notify(message.notice + self._log_hint(), severity="warning", timeout=8)

    def on_ring_changed(self, message: RingChanged) -> None:
        client = self.client
        if client is None:
            return
        incoming = client.state.incoming_call
        if incoming is None or incoming is self._ring_open:
            if (
                incoming is None
                and self._ring_open is not None
                and isinstance(self.screen, RingScreen)
            ):
                self.screen.dismiss(None)  # type: ignore[arg-type]
            return
        self._ring_open = incoming
        self._watch(incoming)
        ring = incoming.state.ringing
        caller = ring.caller.display_name if ring else "?"
        consequence = describe_preview(client.preview_set_active(incoming))
        self.bell()
        self.push_screen(
            RingScreen(caller, incoming.id, consequence, ring.expires_at if ring else None),
            self._answer_ring,
        )

    async def _answer_ring(self, accept: bool | None) -> None:
        call, self._ring_open = self._ring_open, None
        if call is None or accept is None or call.state.ringing is None:
            return
        await self._run(call.accept() if accept else call.reject(reason="decline"))

    # --- intents ------------------------------------------------------------------------------

    async def _run(self, action: Awaitable[None]) -> None:
        try:
            await action
        except MctuiError as exc:
            log.error("%s", exc)
            self.notify(f"{exc}{self._log_hint()}", severity="error")
            self._say(f"failed: {exc}", seconds=8)

    def _calls(self) -> list[Call]:
        return list(self.client.state.active_calls) if self.client is not None else []

    def _selected(self) -> Call | None:
        """The room keys act on: the focused room, else the one the user last focused (so a
        second ``s`` resumes the room the first one suspended), else the first."""
        calls = self._calls()
        if not calls:
            return None
        assert self.client is not None
        focused = self.client.state.focused_call
        if focused is not None:
            return focused
        return next((c for c in calls if c.cid == self._selected_cid), calls[0])

    def _say(self, hint: str | None, seconds: float = 4.0) -> None:
        """A short hint at the end of the status line, gone after ``seconds``."""
        self.hint = hint
        self._show_status()
        if hint is not None:
            self.set_timer(seconds, lambda: self._say(None) if self.hint == hint else None)

    async def _focus(self, target: Call) -> None:
        assert self.client is not None
        self._selected_cid = target.cid
        self._say(None)
        await self._run(self.client.switch_focus(self.client.state.focused_call, target))

    async def action_room_index(self, index: int) -> None:
        calls = self._calls()
        if 0 <= index < len(calls):
            await self._focus(calls[index])
        else:
            joined = f"{len(calls)} room{'s' if len(calls) != 1 else ''} joined"
            self._say(f"no room {index + 1}: {joined}")

    async def _focus_step(self, step: int) -> None:
        calls = self._calls()
        if not calls:
            return
        current = self._selected()
        index = calls.index(current) if current is not None and current in calls else -1
        await self._focus(calls[(index + step) % len(calls)])

    async def action_room_next(self) -> None:
        await self._focus_step(1)

    async def action_room_previous(self) -> None:
        await self._focus_step(-1)

    async def action_mute(self) -> None:
        call = self._selected()
        if call is not None:
            await self._run(call.set_microphone_enabled(not call.state.microphone_enabled))

    async def action_suspend(self) -> None:
        call = self._selected()
        if call is None:
            return
        self._selected_cid = call.cid
        if call.state.is_audio_suspended:
            await self._run(call.resume_audio())
        else:
            await self._run(call.suspend_audio())

    async def action_leave(self) -> None:
        call = self._selected()
        if call is not None:
            await self._run(call.leave())

    def action_join(self) -> None:
        self.push_screen(JoinScreen(), self._join_named)

    async def _join_named(self, text: str | None) -> None:
        if not text or self.client is None:
            return
        try:
            call_type, name = parse_room(text)
        except ValueError:
            self.notify(f"unknown room type in {text!r}", severity="error")
            return
        call = self.client.make_call(call_type, name)
        self._watch(call)
        await self._run(call.join())

    async def action_accept(self) -> None:
        incoming = self.client.state.incoming_call if self.client else None
        if incoming is not None:
            if isinstance(self.screen, RingScreen):
                self.screen.dismiss(True)
            else:
                await self._run(incoming.accept())

    async def action_reject(self) -> None:
        incoming = self.client.state.incoming_call if self.client else None
        if incoming is not None:
            if isinstance(self.screen, RingScreen):
                self.screen.dismiss(False)
            else:
                await self._run(incoming.reject(reason="decline"))

    def action_cycle_policy(self) -> None:
        client = self.client
        if client is None:
            return
        current = POLICY_CYCLE.index(client.multi_call_audio_policy)
        client.set_multi_call_audio_policy(POLICY_CYCLE[(current + 1) % len(POLICY_CYCLE)])
        self._sync_panes()
        self.notify(f"policy: {client.multi_call_audio_policy.value.replace('_', '-')}")

    def key_table(self) -> list[tuple[str, str]]:
        """(key, what it does) for each action, as bound now (after the user's keymap)."""
        rows: list[tuple[str, str]] = []
        bound = [active.binding for active in self.rooms_screen.active_bindings.values()]
        for action in DEFAULT_KEYS:
            keys = [self.get_key_display(b) for b in bound if b.id == action.id]
            rows.append((" / ".join(keys) or "(unbound)", action.help))
        digit_ids = {room_binding_id(n) for n in range(1, ROOM_KEYS + 1)}
        digits = [self.get_key_display(b) for b in bound if b.id in digit_ids]
        if digits:
            rows.insert(2, (f"{digits[0]}-{digits[-1]}", "Move mic and speaker to room 1-9"))
        return rows

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        duck = self.client.options.duck_gain_db if self.client is not None else -18.0
        self.push_screen(HelpScreen(help_text(self.key_table(), duck)))

    async def action_quit(self) -> None:
        if self.client is not None:
            await self.client.disconnect()
        self.exit()

    async def on_unmount(self) -> None:
        """However the app ends, leave every call cleanly."""
        if self.client is not None:
            await self.client.disconnect()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        """Textual's commands (its Quit runs our ``action_quit``) without its own key panel,
        then one entry per mctui action, generated from the same table as the keys."""
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command
        for action in DEFAULT_KEYS:
            if action.id == "quit":
                continue  # Textual's "Quit" already calls action_quit
            yield SystemCommand(
                action.description, action.help, getattr(self, f"action_{action.id}")
            )
