"""Janus-only behaviour, with real Janus instances (Debian's ``janus``) in a NetLab's server
namespace (the conftest's ``janus_sfu_lab``).

The coordinator (with ``JanusSfu``) and the clients run in this process, moved into the clients'
namespace for each test (``janus_lab.inside``): signalling to the coordinator is local there, the
coordinator reaches Janus's API across the lab's link, and media flows between the clients
(10.203.0.2) and Janus (10.203.0.1), which is the only way Janus can serve them. The tests that
run on both SFUs are marked ``both_sfus`` in their own modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from conftest import JANUS_PORTS as PORTS
from conftest import SECRET
from helpers import wait_heard
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.backends import MemoryBackend
from mctui.server.app import RunningServer
from mctui.server.janus_sfu import JanusSfu
from mctui.server.tokens import issue_token
from netlab import SERVER_IP

#: Every test here runs on the conftest's Janus variant of ``sfu_server``.
pytestmark = pytest.mark.parametrize("sfu_server", ["janus"], indirect=True)


@pytest.fixture
async def janus_client(sfu_server: RunningServer) -> AsyncIterator[object]:
    clients: list[Client] = []

    async def factory(user_id: str, tone_hz: float | None = None) -> Client:
        signal = None
        if tone_hz is not None:
            t = np.arange(48_000) / 48_000
            signal = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
        options = ClientOptions(
            audio_device=MemoryBackend(signal),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        )
        client = Client(sfu_server.url, User(user_id), issue_token(SECRET, user_id), options)
        await client.connect()
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()


async def test_calls_spread_over_two_janus_instances_and_each_carries_audio(
    janus_client,
    sfu_server,  # type: ignore[no-untyped-def]
) -> None:
    sfu: JanusSfu = sfu_server.coordinator.sfu  # type: ignore[assignment]
    pairs = []
    for room in ("one", "two", "three", "four"):
        talker = await janus_client(f"{room}-talker", 500)
        listener = await janus_client(f"{room}-listener")
        t = talker.make_call(CallType.DEFAULT, room)
        await t.join()
        ear = listener.make_call(CallType.DEFAULT, room)
        await ear.join()
        pairs.append((room, ear))
    used = {sfu.rooms[f"default:{room}"].instance.url for room, _ in pairs}
    assert used == {f"ws://{SERVER_IP}:{port}" for port in PORTS}
    for room, ear in pairs:
        await wait_heard(ear, f"{room}-talker")
