"""Ringing through the real coordinator: incoming_call, accept, reject, busy, timeout, cancel."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from helpers import wait_until
from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.engine.state import CallConnection
from mctui.errors import InvalidStateError
from mctui.server.app import start_server
from mctui.server.tokens import issue_token
from spectrum import band_level_db
from testbed import SECRET


async def test_ring_sets_incoming_call_and_accept_joins_both(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    call = bob.make_call(CallType.DEFAULT, "ring-accept")
    await call.ring(["alice"])
    assert call.state.connection is CallConnection.JOINED
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    assert incoming.cid == call.cid
    assert incoming.state.ringing is not None and incoming.state.ringing.caller.id == "bob"
    await incoming.accept()
    assert alice.state.incoming_call is None
    assert incoming.state.connection is CallConnection.JOINED
    await wait_until(call.state, "outgoing_ring", lambda r: r == frozenset())
    await wait_until(call.state, "participants", lambda ps: any(p.user.id == "alice" for p in ps))


async def test_accept_suspends_existing_call(make_client):
    alice = await make_client("alice", MultiCallAudioPolicy.SUSPEND_EXISTING)
    bob = await make_client("bob")
    live = alice.make_call(CallType.LIVESTREAM, "show")
    await live.join()
    await bob.make_call(CallType.DEFAULT, "private").ring(["alice"])
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    await incoming.accept()
    assert live.state.is_audio_suspended and not incoming.state.is_audio_suspended
    await incoming.leave()
    assert not live.state.is_audio_suspended  # the livestream resumes by itself


async def test_reject_reason_reaches_caller_and_caller_hangs_up(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    call = bob.make_call(CallType.DEFAULT, "ring-reject")
    await call.ring(["alice"])
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    await incoming.reject(reason="decline")
    await wait_until(bob.state, "active_calls", lambda calls: calls == [])
    assert call.state.ring_responses == {"alice": "decline"}
    assert call.state.connection is CallConnection.LEFT


async def test_busy_rejects_when_a_call_is_active(make_client):
    alice = await make_client("alice", reject_call_when_busy=True)
    bob = await make_client("bob")
    await alice.make_call(CallType.DEFAULT, "busy-here").join()
    call = bob.make_call(CallType.DEFAULT, "ring-busy")
    await call.ring(["alice"])
    await wait_until(call.state, "ring_responses", lambda r: r == {"alice": "busy"})
    await wait_until(bob.state, "active_calls", lambda calls: calls == [])
    assert alice.state.incoming_call is None


async def test_caller_cancel_clears_callee_incoming(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    call = bob.make_call(CallType.DEFAULT, "ring-cancel")
    await call.ring(["alice"])
    await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    await call.reject(reason="cancel")
    await wait_until(alice.state, "incoming_call", lambda c: c is None)


async def test_caller_leave_cancels_ring(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    call = bob.make_call(CallType.DEFAULT, "ring-leave")
    await call.ring(["alice"])
    await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    await call.leave()
    await wait_until(alice.state, "incoming_call", lambda c: c is None)


async def test_accept_without_ring_is_a_typed_error(make_client):
    alice = await make_client("alice")
    with pytest.raises(InvalidStateError):
        await alice.make_call(CallType.DEFAULT, "nothing").accept()


async def test_ring_timeout_is_missed():
    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=0.3)
    clients = []
    try:
        for uid in ("alice", "bob"):
            client = Client(
                running.url,
                User(uid),
                issue_token(SECRET, uid),
                ClientOptions(audio_device="memory"),
            )
            await client.connect()
            clients.append(client)
        alice, bob = clients
        call = bob.make_call(CallType.DEFAULT, "ring-missed")
        await call.ring(["alice"])
        await wait_until(alice.state, "incoming_call", lambda c: c is not None)
        assert alice.audio.ringer is not None
        await wait_until(alice.state, "incoming_call", lambda c: c is None, timeout=3)
        assert alice.audio.ringer is None  # a missed ring stops sounding
        await wait_until(call.state, "ring_responses", lambda r: r == {"alice": "missed"}, 3)
        await wait_until(bob.state, "active_calls", lambda calls: calls == [])
    finally:
        for client in clients:
            await client.disconnect()
        await running.stop()


@pytest.fixture
async def patient_client():  # type: ignore[no-untyped-def]
    """Clients of a server whose rings last 10 s (long enough to hear a whole cadence)."""
    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=10.0)
    clients: list[Client] = []

    async def factory(user_id: str, **options: object) -> Client:
        opts = ClientOptions(audio_device="memory")
        for key, value in options.items():
            setattr(opts, key, value)
        client = Client(running.url, User(user_id), issue_token(SECRET, user_id), opts)
        await client.connect()
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()
        await running.stop()


async def ring_heard(device, seconds: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The next ``seconds`` of what the speaker played (mono)."""
    device.clear_output()
    await asyncio.sleep(seconds + 0.05)
    return device.output(seconds)


@pytest.mark.slow
async def test_a_ring_sounds_in_its_cadence_and_stops_when_the_caller_cancels(patient_client):
    """US cadence at -12 dBFS: 440 and 480 Hz at -18 dB each (half the amplitude each), 2 s on,
    then silence; the caller's cancel stops it at once, and only the callee hears it."""
    alice = await patient_client("alice")
    bob = await patient_client("bob")
    device = alice.audio.backend
    call = bob.make_call(CallType.DEFAULT, "ring-sound")
    await call.ring(["alice"])
    await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    on = await ring_heard(device, 1.5)  # within the first 2 s
    for hz in (440, 480):
        assert band_level_db(on, hz) == pytest.approx(-18.0, abs=0.5)
    await asyncio.sleep(0.6)  # past the 2 s burst
    off = await ring_heard(device, 0.5)
    assert max(band_level_db(off, 440), band_level_db(off, 480)) < -60
    bob_heard = bob.audio.backend.output(2.5)  # bob's own speaker: he is the caller, no ring
    assert band_level_db(bob_heard, 440) < -60
    await call.reject(reason="cancel")
    await wait_until(alice.state, "incoming_call", lambda c: c is None)
    assert alice.audio.ringer is None
    after = await ring_heard(device, 2.0)  # the next burst would start 6 s in: none comes
    assert band_level_db(after, 440) < -60


@pytest.mark.slow
async def test_an_accepted_ring_stops_and_the_eu_cadence_double_rings(patient_client):
    alice = await patient_client("alice", ring="eu", ring_volume_db=-20.0)
    bob = await patient_client("bob")
    device = alice.audio.backend
    await bob.make_call(CallType.DEFAULT, "ring-eu").ring(["alice"])
    incoming = await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    heard = await ring_heard(device, 2.4)  # of its 2.6 s period: 0.4 on, 0.2 off, 0.4 on, 2 off
    levels = [band_level_db(heard[i * 4800 : (i + 1) * 4800], 400) for i in range(24)]
    on = [i for i, level in enumerate(levels) if level > -30]  # -26 dB: one tone at -20 dBFS
    assert 5 <= len(on) <= 8, levels  # 0.8 s of ring, counted in 0.1 s windows
    assert max(on) - min(on) <= 10, levels  # one double ring, then silence
    assert max(band_level_db(heard[i * 4800 : (i + 1) * 4800], 450) for i in on) > -40
    await incoming.accept()
    after = await ring_heard(device, 1.0)
    assert band_level_db(after, 400) < -60 and alice.audio.ringer is None


async def test_ring_off_rings_nothing(make_client):
    alice = await make_client("alice", ring="off")
    bob = await make_client("bob")
    await bob.make_call(CallType.DEFAULT, "ring-quiet").ring(["alice"])
    await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    assert alice.audio.ringer is None
