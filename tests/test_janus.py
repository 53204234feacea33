"""Calls through real Janus instances (Debian's ``janus``) in the NetLab's server namespace.

The coordinator (with ``JanusSfu``) and the clients run in this process, moved into the clients'
namespace for each test (``janus_lab.inside``): signalling to the coordinator is local there, the
coordinator reaches Janus's API across the lab's link, and media flows between the clients
(10.203.0.2) and Janus (10.203.0.1), which is the only way Janus can serve them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

import janus_lab
import netlab
from helpers import wait_heard
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui import protocol as p
from mctui.audio.backends import MemoryBackend
from mctui.errors import PermissionDeniedError
from mctui.server.app import RunningServer, start_server
from mctui.server.janus_sfu import JanusSfu
from mctui.server.tokens import issue_token
from netlab import SERVER_IP, NetLab
from spectrum import band_level_db

SECRET = "janus-test-secret-0123456789abcdef"
ADMIN_KEY = "janus-test-admin-key"
PORTS = (8188, 8189)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetLab]:
    for why in (netlab.available(), janus_lab.available()):
        if why is not None:
            pytest.fail(f"the Janus tests cannot run here: {why}")
    running = NetLab().start()
    try:
        for port in PORTS:
            janus_lab.start(running, tmp_path_factory.mktemp(f"janus{port}"), port, ADMIN_KEY)
        yield running
    finally:
        running.stop()
        assert netlab.namespaces_left() == []


@pytest.fixture
def in_clients_ns(lab: NetLab) -> Iterator[None]:
    with janus_lab.inside(lab.client_ns):
        yield


@pytest.fixture
async def janus_server(in_clients_ns: None) -> AsyncIterator[RunningServer]:
    sfu = JanusSfu([f"ws://{SERVER_IP}:{port}" for port in PORTS], ADMIN_KEY)
    running = await start_server(SECRET, "127.0.0.1", 0, sfu=sfu)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def janus_client(janus_server: RunningServer) -> AsyncIterator[object]:
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
        client = Client(janus_server.url, User(user_id), issue_token(SECRET, user_id), options)
        await client.connect()
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()


async def test_two_users_hear_each_other_through_janus(janus_client, janus_server) -> None:  # type: ignore[no-untyped-def]
    alice = await janus_client("alice", 440)
    bob = await janus_client("bob", 660)
    a = alice.make_call(CallType.DEFAULT, "duet")
    b = bob.make_call(CallType.DEFAULT, "duet")
    await a.join()
    await b.join()
    await wait_heard(a, "bob")
    await wait_heard(b, "alice")
    await asyncio.sleep(1.0)
    heard_by_alice = alice.audio.backend.output(last_seconds=1.0)
    heard_by_bob = bob.audio.backend.output(last_seconds=1.0)
    assert band_level_db(heard_by_alice, 660) > -30
    assert band_level_db(heard_by_alice, 440) < band_level_db(heard_by_alice, 660) - 30
    assert band_level_db(heard_by_bob, 440) > -30
    # the media went to Janus, not to the coordinator's address
    assert a._media.transport is not None
    assert a.state.connection.value == "joined"


async def test_a_viewer_hears_the_host_and_cannot_publish(janus_client) -> None:  # type: ignore[no-untyped-def]
    host = await janus_client("host", 550)
    viewer = await janus_client("viewer")
    show = host.make_call(CallType.LIVESTREAM, "show")
    await show.join()
    seat = viewer.make_call(CallType.LIVESTREAM, "show")
    await seat.join()
    assert not seat.state.can_publish
    await wait_heard(seat, "host")
    with pytest.raises(PermissionDeniedError):
        await viewer.request(
            p.SfuSignalRequest, p.SfuAnswer, cid=seat.cid, role="publisher",
            sdp="v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        )  # fmt: skip


async def test_calls_spread_over_two_janus_instances_and_each_carries_audio(
    janus_client,
    janus_server,  # type: ignore[no-untyped-def]
) -> None:
    sfu: JanusSfu = janus_server.coordinator.sfu  # type: ignore[assignment]
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
