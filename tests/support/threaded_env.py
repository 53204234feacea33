"""A coordinator and peer clients on their own loop in a background thread.

Snapshot tests are plain ``def`` tests: pytest-textual-snapshot runs the app on a loop of its own,
so the server it talks to (over 127.0.0.1) lives on another thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import jwt

from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.server.app import RunningServer, start_server
from testbed import SECRET

T = TypeVar("T")


class ThreadedEnv:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: RunningServer = self.run(start_server(SECRET, "127.0.0.1", 0))
        self.peers: dict[str, Client] = {}

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def peer(self, user_id: str, name: str | None = None) -> Client:
        """A connected peer; ``name`` goes into its token as is (even one ``issue_token``
        would refuse, for the tests of what the TUI shows when a server lets it through)."""
        if user_id not in self.peers:
            claims = {"sub": user_id, "name": name or user_id, "exp": int(time.time()) + 3600}
            client = Client(
                self.server.url,
                User(user_id, user_id.title() if name is None else name),
                jwt.encode(claims, SECRET, "HS256"),
                ClientOptions(
                    audio_device="null", multi_call_audio_policy=MultiCallAudioPolicy.MANUAL
                ),
            )
            self.run(client.connect())
            self.peers[user_id] = client
        return self.peers[user_id]

    def populate(self, rooms: dict[str, list[str]]) -> None:
        for room, people in rooms.items():
            for person in people:
                call_type, _, name = room.rpartition(":")
                call = self.peer(person).make_call(CallType(call_type or "default"), name)
                self.run(call.join())

    def close(self) -> None:
        async def _close() -> None:
            for client in self.peers.values():
                await client.disconnect()
            await self.server.stop()

        self.run(_close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
