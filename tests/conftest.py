"""Shared fixtures: a real coordinator on 127.0.0.1 (port 0) and clients connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mctui import Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.server.app import RunningServer, start_server
from mctui.server.tokens import issue_token

SECRET = "test-secret-not-for-production-0123456789"

ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=2.0)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def make_client(server: RunningServer) -> AsyncIterator[ClientFactory]:
    clients: list[Client] = []

    async def factory(
        user_id: str,
        policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING,
        **options: object,
    ) -> Client:
        opts = ClientOptions(multi_call_audio_policy=policy, audio_device="memory")
        for key, value in options.items():
            setattr(opts, key, value)
        client = Client(
            server.url,
            user=User(id=user_id, name=user_id.title()),
            token=issue_token(SECRET, user_id),
            options=opts,
        )
        await client.connect()
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()
