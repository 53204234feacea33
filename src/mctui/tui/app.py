"""The Textual app: connect, then the rooms screen; a one-line reason if it cannot.

The app owns no call logic. Until the client is connected it shows a connecting screen; then the
rooms screen (``screens/rooms.py``), created with the connected client, does the rest. Engine and
UI share one asyncio loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Footer, Static

from mctui.engine import Client
from mctui.errors import MctuiError
from mctui.tui.actions import DEFAULT_KEYS, check_keymap
from mctui.tui.screens.rooms import RoomsScreen, grid_columns
from mctui.tui.widgets.room_pane import ActivitySource, LevelSource

__all__ = ["MctuiApp", "grid_columns"]

ClientFactory = Callable[[], Awaitable[Client]]
log = logging.getLogger(__name__)


class ConnectingScreen(Screen[None]):
    """What shows while the client connects (the demo's backend may take a few seconds)."""

    BINDINGS = [("q", "app.quit", "Quit")]

    def __init__(self, client: Client | None = None) -> None:
        super().__init__()
        self._client = client
        self._stop: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(" mctui  [dim]multicall voice[/]", id="title-bar")
        yield Static("connecting…", id="empty")
        yield Footer()

    def on_mount(self) -> None:
        if self._client is not None:
            self._stop = self._client.state.observe("reconnect_attempt").listen(self._retrying)
            self._retrying(self._client.state.reconnect_attempt)  # one may have begun already

    def on_unmount(self) -> None:
        if self._stop is not None:
            self._stop()

    def _retrying(self, attempt: int) -> None:
        """An attempt failed and another begins: say so, instead of "connecting…" forever."""
        if attempt > 1 and self._client is not None:
            reason = self._client.state.connection_reason or "no answer"
            self.query_one("#empty", Static).update(
                f"connecting… attempt {attempt} ({escape(reason)})"
            )


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
        activity: ActivitySource | None = None,
        on_ready: Callable[[MctuiApp], Awaitable[None]] | None = None,
        connecting: Client | None = None,
        notifications: bool = True,
    ) -> None:
        super().__init__()
        self._connect = connect
        self._desktop_notifications = notifications
        self._connecting = connecting
        self._rooms = list(rooms)
        self._clock = clock
        self._levels = levels
        self._activity = activity
        self._on_ready = on_ready
        self.log_path = log_path
        #: Why the app ended on its own (cannot connect), for the command line's one-line error.
        self.failure: str | None = None
        self.rooms_screen: RoomsScreen | None = None
        if keymap:
            check_keymap(dict(keymap))
            self.set_keymap(dict(keymap))

    @property
    def client(self) -> Client | None:
        return self.rooms_screen.client if self.rooms_screen is not None else None

    @property
    def ready(self) -> bool:
        return self.rooms_screen is not None and self.rooms_screen.ready

    def get_default_screen(self) -> Screen[None]:
        return ConnectingScreen(self._connecting)

    def on_mount(self) -> None:
        self._start()

    @work(exclusive=True, group="start")
    async def _start(self) -> None:
        try:
            client = await self._connect()
        except MctuiError as exc:
            log.error("cannot connect: %s", exc)
            log.debug("the connection failed", exc_info=True)  # the cause, at debug level
            self.failure = str(exc)
            self.exit(return_code=1)
            return
        self.rooms_screen = RoomsScreen(
            client,
            self._rooms,
            log_path=self.log_path,
            clock=self._clock,
            levels=self._levels,
            activity=self._activity,
            on_ready=self._rooms_ready,
            on_lost=self._lost,
            notifications=self._desktop_notifications,
        )
        await self.push_screen(self.rooms_screen)

    def _lost(self, reason: str) -> None:
        """Reconnecting gave up: end with exit code 1 and the reason as the one-line error."""
        log.error("%s", reason)
        self.failure = reason
        self.exit(return_code=1)

    async def _rooms_ready(self) -> None:
        if self._on_ready is not None:
            await self._on_ready(self)

    def key_table(self) -> list[tuple[str, str]]:
        return self.rooms_screen.key_table() if self.rooms_screen is not None else []

    async def action_quit(self) -> None:
        if self.rooms_screen is not None:
            await self.rooms_screen.client.disconnect()
        self.exit()

    async def on_unmount(self) -> None:
        """However the app ends, leave every call cleanly."""
        if self.rooms_screen is not None:
            await self.rooms_screen.client.disconnect()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        """Textual's commands (its Quit runs our ``action_quit``) without its own key panel,
        then one entry per mctui action, generated from the same table as the keys."""
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command
        rooms = self.rooms_screen
        if rooms is None:
            return
        for action in DEFAULT_KEYS:
            if action.id == "quit":
                continue  # Textual's "Quit" already calls action_quit
            yield SystemCommand(
                action.description, action.help, getattr(rooms, f"action_{action.id}")
            )
