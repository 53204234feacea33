"""Janus-only behaviour, with real Janus instances (Debian's ``janus``) in a NetLab's server
namespace (the conftest's ``janus_sfu_lab``).

The coordinator (with ``JanusSfu``) and the clients run in this process, moved into the clients'
namespace for each test (``janus_lab.inside``): signalling to the coordinator is local there, the
coordinator reaches Janus's API across the lab's link, and media flows between the clients
(10.203.0.2) and Janus (10.203.0.1), which is the only way Janus can serve them. The tests that
run on both SFUs are marked ``both_sfus`` in their own modules.
"""

from __future__ import annotations

import logging

import pytest

from helpers import wait_heard, wait_until
from mctui import CallType
from mctui.server.janus_sfu import JanusSfu
from netlab import SERVER_IP
from testbed import JANUS
from testbed import JANUS_PORTS as PORTS

#: Every test here runs on the conftest's Janus variant of ``sfu_server``.
pytestmark = pytest.mark.parametrize("sfu_server", [JANUS], indirect=True)


async def test_calls_spread_over_two_janus_instances_and_each_carries_audio(
    media_client,
    sfu_server,  # type: ignore[no-untyped-def]
) -> None:
    sfu: JanusSfu = sfu_server.coordinator.sfu  # type: ignore[assignment]
    pairs = []
    for room in ("one", "two", "three", "four"):
        talker = await media_client(f"{room}-talker", 500)
        listener = await media_client(f"{room}-listener")
        t = talker.make_call(CallType.DEFAULT, room)
        await t.join()
        ear = listener.make_call(CallType.DEFAULT, room)
        await ear.join()
        pairs.append((room, ear))
    used = {sfu.rooms[f"default:{room}"].instance.url for room, _ in pairs}
    assert used == {f"ws://{SERVER_IP}:{port}" for port in PORTS}
    for room, ear in pairs:
        await wait_heard(ear, f"{room}-talker")


async def test_a_new_subscriber_needs_no_dtls_retransmission(
    media_client,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    """Janus drops DTLS that arrives before its ICE agent calls the path ready, and the first
    retransmission comes 1 s later: that second of silence hid in test_media's Janus variant.
    Our subscriber answers as the DTLS server (``a=setup:passive``), so Janus's ClientHello
    starts the handshake when Janus is ready and no handshake waits for a retransmission."""
    caplog.set_level(logging.DEBUG, logger="aiortc.rtcdtlstransport")
    talker = await media_client("talker", 500)
    await talker.make_call(CallType.DEFAULT, "dtls").join()
    ears = []
    for index in range(4):
        listener = await media_client(f"listener{index}")
        ear = listener.make_call(CallType.DEFAULT, "dtls")
        await ear.join()
        ears.append(ear)
    for ear in ears:
        await wait_heard(ear, "talker", played=True)
        transport = ear._media.transport
        assert transport is not None and transport.subscriber is not None
        assert "a=setup:passive" in transport.subscriber.localDescription.sdp
    retransmits = [r for r in caplog.records if "DTLS handling timeout" in r.getMessage()]
    assert retransmits == []


async def test_a_room_everyone_left_is_destroyed_on_its_janus_instance(
    media_client,
    sfu_server,  # type: ignore[no-untyped-def]
) -> None:
    """The last participant leaves: the call's room is gone from Janus itself (asked with a
    VideoRoom ``exists`` on a handle of our own), not only from the coordinator's book."""
    from mctui.server.janus_api import JanusSession

    sfu: JanusSfu = sfu_server.coordinator.sfu  # type: ignore[assignment]
    alone = await media_client("alone", 500)
    call = alone.make_call(CallType.DEFAULT, "empty-soon")
    await call.join()
    room = sfu.rooms["default:empty-soon"]
    janus = JanusSession(room.instance.url)
    await janus.open()
    try:
        handle = await janus.attach(lambda event: None)
        asked = {"request": "exists", "room": room.room_id}
        assert (await janus.request(handle, asked))[0]["exists"] is True
        await call.leave()
        assert "default:empty-soon" not in sfu.rooms
        assert (await janus.request(handle, asked))[0]["exists"] is False
        await janus.detach(handle)
    finally:
        await janus.close()


async def test_a_subscription_that_carries_nothing_is_found_and_rebuilt(
    media_client,
    sfu_server,  # type: ignore[no-untyped-def]
) -> None:
    """Janus stops sending to the listener (its subscription paused on Janus itself, as a lost
    or misplaced handle would leave it): every connection stays up and no event says so, but
    the SFU still hears the talker. Within a few seconds the listener's call rebuilds its
    media (reconnecting, then joined) and hears the talker again."""
    sfu: JanusSfu = sfu_server.coordinator.sfu  # type: ignore[assignment]
    talker = await media_client("talker", 500)
    await talker.make_call(CallType.DEFAULT, "starved").join()
    listener = await media_client("listener")
    ear = listener.make_call(CallType.DEFAULT, "starved")
    await ear.join()
    await wait_heard(ear, "talker", played=True)
    room = sfu.rooms["default:starved"]
    peer = next(x for x in room.peers.values() if x.user_id == "listener")
    assert peer.subscriber is not None and room.instance.session is not None
    states: list[str] = []
    ear.state.observe("connection").listen(lambda c: states.append(c.value))
    # Janus stops forwarding to the listener; nothing else changes and nobody is told
    await room.instance.session.request(peer.subscriber, {"request": "pause"})
    await wait_until(ear.state, "connection", lambda c: c.value == "reconnecting", 15)
    await wait_until(ear.state, "connection", lambda c: c.value == "joined", 15)
    await wait_heard(ear, "talker", played=True)
    assert states[:2] == ["reconnecting", "joined"]
