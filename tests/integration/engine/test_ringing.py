"""Ringing through the real coordinator: incoming_call, accept, reject, busy, timeout, cancel."""

from __future__ import annotations

import pytest

from helpers import wait_until
from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.engine.state import CallConnection
from mctui.errors import InvalidStateError
from mctui.server.app import start_server
from mctui.server.tokens import issue_token
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
        await wait_until(alice.state, "incoming_call", lambda c: c is None, timeout=3)
        await wait_until(call.state, "ring_responses", lambda r: r == {"alice": "missed"}, 3)
        await wait_until(bob.state, "active_calls", lambda calls: calls == [])
    finally:
        for client in clients:
            await client.disconnect()
        await running.stop()
