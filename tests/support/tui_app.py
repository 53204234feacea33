"""The real app, as the Pilot tests start it: a client of ``server`` as "me" with the null
device, the app joining ``rooms``, and an event set once they are joined."""

from __future__ import annotations

import asyncio

from mctui import Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from testbed import SECRET

SE = MultiCallAudioPolicy.SUSPEND_EXISTING


def make_app(server, rooms, policy=SE, client_options=None, **app_kw):  # type: ignore[no-untyped-def]
    """The app, its client and the event set once the rooms are joined; ``client_options``
    adds to the client's options (``record_dir`` ...), ``app_kw`` to the app's."""
    ready = asyncio.Event()
    client = Client(
        server.url,
        User("me", "Me"),
        issue_token(SECRET, "me"),
        ClientOptions(
            multi_call_audio_policy=policy, audio_device="null", **(client_options or {})
        ),
    )

    async def connect() -> Client:
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    app = MctuiApp(connect, rooms, on_ready=on_ready, **app_kw)
    return app, client, ready


async def start(pilot, ready: asyncio.Event, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has joined its rooms, then let it draw."""
    async with asyncio.timeout(timeout):
        await ready.wait()
    await pilot.pause()
