"""Shared fixtures: a real coordinator on 127.0.0.1 (port 0) and clients connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mctui import AudioConfigurationPolicy, Client, ClientOptions, MultiCallAudioPolicy, User
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


@pytest.fixture
async def sfu_server() -> AsyncIterator[RunningServer]:
    """The coordinator with the embedded SFU; checks no peer connection or SFU task is left."""
    import asyncio

    from mctui.rtc.peer import open_peer_connections
    from mctui.server.embedded_sfu import EmbeddedSfu

    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=2.0, sfu=EmbeddedSfu())
    try:
        yield running
    finally:
        await running.stop()
    await asyncio.sleep(0)
    assert open_peer_connections() == [], "a peer connection was left open"
    leftover = [
        t.get_name()
        for t in asyncio.all_tasks()
        if t.get_name().startswith(("sfu-", "rtc-", "audio-", "signaling-")) and not t.done()
    ]
    assert leftover == [], f"tasks left running: {leftover}"


@pytest.fixture
async def media_client(sfu_server: RunningServer) -> AsyncIterator[ClientFactory]:
    """Clients of the SFU server, each with a memory audio device playing a tone (or silence)."""
    import numpy as np

    from mctui.audio.backends import MemoryBackend

    clients: list[Client] = []

    async def factory(
        user_id: str,
        tone_hz: float | None = None,
        policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING,
        **options: object,
    ) -> Client:
        signal = None
        if tone_hz is not None:
            t = np.arange(48_000) / 48_000
            signal = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
        # Tones stand in for voices: "hifi" skips the voice chain, whose noise suppression
        # rightly removes steady tones.
        opts = ClientOptions(
            multi_call_audio_policy=policy,
            audio_device=MemoryBackend(signal),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        )
        for key, value in options.items():
            setattr(opts, key, value)
        client = Client(
            sfu_server.url,
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
