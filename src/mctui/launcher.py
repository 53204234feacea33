"""What ``mctui join``, ``demo`` and ``rooms`` share: the audio device from flags and config, and
running a connected client in the TUI or headless, turning every way it can end into an exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mctui.config import AudioBackendName, Config

if TYPE_CHECKING:
    from mctui.audio.backends import AudioBackend
    from mctui.engine import Client
    from mctui.protocol import RoomInfo
    from mctui.tui.app import MctuiApp

log = logging.getLogger(__name__)
ClientFactory = Callable[[], Awaitable["Client"]]


def device_arg(value: str | None) -> int | str | None:
    """A device named on the command line: an index if it is all digits, else a name."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def audio_device(
    settings: Config,
    backend: AudioBackendName | None,
    input_device: str | None = None,
    output_device: str | None = None,
    input_wav: Path | None = None,
    output_wav: Path | None = None,
) -> AudioBackend:
    """The audio backend: flags win over the config file; raises ``MctuiError`` if a WAV file
    cannot be read or written."""
    from mctui.audio.devices import backend_for

    return backend_for(
        (backend or settings.audio.backend).value,
        device_arg(input_device) or settings.audio.input_device,
        device_arg(output_device) or settings.audio.output_device,
        input_wav,
        output_wav,
    )


@contextlib.contextmanager
def event_stream(events: str) -> Iterator[TextIO]:
    """Where headless events go: ``-`` is stdout, anything else a file appended to."""
    if events == "-":
        yield sys.stdout
        return
    with open(events, "a") as handle:
        yield handle


def run_client(
    connect: ClientFactory,
    rooms: list[str],
    *,
    headless: bool,
    events: str = "-",
    keymap: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    connecting: Client | None = None,
    notifications: bool = True,
    after_ready: Callable[[Client], Awaitable[None]] | None = None,
) -> tuple[int, str | None]:
    """Run until the user quits: (exit code, a one-line reason when it is not 0).
    ``connecting``: the client ``connect`` connects, so the UI can show its retries;
    ``after_ready``: what to do once the rooms are joined (the demo's patches)."""
    if headless:
        from mctui.headless import run_headless

        fatal: list[str] = []
        with event_stream(events) as stream:
            code = asyncio.run(
                run_headless(
                    connect,
                    rooms,
                    stream,
                    on_fatal=fatal.append,
                    connecting=connecting,
                    after_ready=after_ready,
                )
            )
        return code, (fatal[-1] if fatal else "the session failed") if code else None
    from mctui.tui.app import MctuiApp

    app = MctuiApp(
        connect,
        rooms,
        keymap=keymap,
        log_path=str(log_path) if log_path else None,
        connecting=connecting,
        notifications=notifications,
        on_ready=_with_client(after_ready) if after_ready is not None else None,
    )
    app.run()
    if app.failure is not None:
        return 1, app.failure
    if app.return_code:
        return app.return_code, "the terminal UI stopped on an error"
    return 0, None


def _with_client(
    after_ready: Callable[[Client], Awaitable[None]],
) -> Callable[[MctuiApp], Awaitable[None]]:
    async def on_ready(app: MctuiApp) -> None:
        if app.client is not None:
            await after_ready(app.client)

    return on_ready


async def list_rooms(
    server: str, user: str, token: str, ca_file: str | None = None
) -> list[RoomInfo]:
    """The room directory of ``server`` as ``user`` sees it (``mctui rooms``)."""
    from mctui.engine import Client, ClientOptions, User

    options = ClientOptions(audio_device="null", ca_file=ca_file)
    client = Client(server, User(user), token, options)
    try:
        await client.connect()
        return await client.list_calls()
    finally:
        await client.disconnect()
