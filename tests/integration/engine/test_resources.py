"""Quick join/leave and ring/accept/hang-up cycles leave nothing behind: tasks, file
descriptors, threads and peer connections end where they started (client and server alike, both
in this process)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.rtc.peer import open_peer_connections
from mctui.server.tokens import issue_token
from testbed import SECRET

JOIN_LEAVE_CYCLES = 150
RING_CYCLES = 50
SLACK = 6  # tasks/fds that may legitimately be mid-flight (timers, a closing socket)


def counts() -> dict[str, int]:
    return {
        "tasks": len([t for t in asyncio.all_tasks() if not t.done()]),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
        "peer_connections": len(open_peer_connections()),
    }


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.1)


async def client(url: str, user: str) -> Client:
    options = ClientOptions(
        audio_device="null", audio_configuration_policy=AudioConfigurationPolicy.hifi()
    )
    c = Client(url, User(user), issue_token(SECRET, user), options)
    await c.connect()
    return c


@pytest.mark.slow
async def test_quick_cycles_leave_nothing_behind(sfu_server):
    alice = await client(sfu_server.url, "alice")
    bob = await client(sfu_server.url, "bob")
    try:
        warm = alice.make_call(CallType.DEFAULT, "warm")
        await warm.join()
        await warm.leave()
        await settle()
        before = counts()
        for n in range(JOIN_LEAVE_CYCLES):
            call = alice.make_call(CallType.DEFAULT, f"quick-{n % 7}")
            await call.join()
            await call.leave()  # often while ICE is still in progress
        for n in range(RING_CYCLES):
            outgoing = bob.make_call(CallType.DEFAULT, f"ring-{n % 5}")
            await outgoing.ring(["alice"])
            incoming = await alice.state.observe("incoming_call").wait_for(lambda c: c is not None)
            await incoming.accept()
            await outgoing.end()
            await alice.state.observe("active_calls").wait_for(lambda calls: not calls)
        await settle()
        after = counts()
        print(f"\nresources before {before} after {after}")
        assert after["peer_connections"] == before["peer_connections"]
        assert after["threads"] <= before["threads"] + 2  # executor threads come and go
        assert after["tasks"] <= before["tasks"] + SLACK, (before, after)
        assert after["fds"] <= before["fds"] + SLACK, (before, after)
    finally:
        await alice.disconnect()
        await bob.disconnect()
