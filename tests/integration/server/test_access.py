"""Who may do what on the server, each rule tried by a second, hostile client; and the limits."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from mctui import CallType, Client
from mctui import protocol as p
from mctui.errors import (
    AuthError,
    LimitReachedError,
    MessageTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
)
from mctui.server.app import start_server
from mctui.server.limits import ServerLimits
from mctui.server.tokens import issue_token
from testbed import SECRET, connected


async def test_a_non_member_cannot_read_who_is_in_a_call(make_client):
    owner = await make_client("owner")
    friend = await make_client("friend")
    mallory = await make_client("mallory")
    call = owner.make_call(CallType.DEFAULT, "private")
    await call.get_or_create(members=["friend"])
    await call.join()
    seen = await mallory.make_call(CallType.DEFAULT, "private").get()
    assert seen.members == [] and seen.participants == []
    shown = await friend.make_call(CallType.DEFAULT, "private").get()
    assert {m.user_id for m in shown.members} == {"owner", "friend"}
    assert [u.id for u in shown.participants] == ["owner"]


async def test_the_owner_keeps_a_call_that_someone_recreates_after_it_ended(make_client):
    owner = await make_client("owner")
    mallory = await make_client("mallory")
    call = owner.make_call(CallType.DEFAULT, "standup")
    await call.join()
    await call.end()
    stolen = mallory.make_call(CallType.DEFAULT, "standup")
    info = await stolen.get_or_create()
    assert info.created_by == "owner"  # recreating hands nothing over
    await call.join()
    with pytest.raises(PermissionDeniedError):
        await stolen.end()
    assert call in owner.state.active_calls


async def test_a_call_scoped_token_joins_only_its_call_and_cannot_end_or_ring(make_client, server):
    owner = await make_client("owner")
    room = owner.make_call(CallType.DEFAULT, "meet")
    await room.join()
    guest = await connected(server.url, "guest", issue_token(SECRET, "guest", call="default:meet"))
    try:
        mine = guest.make_call(CallType.DEFAULT, "meet")
        await mine.join()
        assert [c.id for c in guest.state.active_calls] == ["meet"]
        with pytest.raises(PermissionDeniedError, match="only join default:meet"):
            await guest.make_call(CallType.DEFAULT, "elsewhere").join()
        with pytest.raises(PermissionDeniedError, match="cannot end"):
            await mine.end()
        with pytest.raises(PermissionDeniedError, match="cannot end calls or ring"):
            await guest.request(p.RingRequest, cid="default:meet", members=["x"])
    finally:
        await guest.disconnect()


@pytest.mark.both_sfus
async def test_a_livestream_viewer_cannot_publish(sfu_server):
    host = await connected(sfu_server.url, "host")
    viewer = await connected(sfu_server.url, "viewer")
    try:
        await host.make_call(CallType.LIVESTREAM, "show").join()
        watching = viewer.make_call(CallType.LIVESTREAM, "show")
        await watching.join()
        assert not watching.state.can_publish
        offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        with pytest.raises(PermissionDeniedError, match="cannot publish"):
            await viewer.request(
                p.SfuSignalRequest, cid="livestream:show", role="publisher", sdp=offer
            )
    finally:
        await viewer.disconnect()
        await host.disconnect()


@pytest.fixture
async def strict_server():
    limits = ServerLimits(
        auth_timeout_s=0.3,
        max_connections=6,
        max_connections_per_user=2,
        messages_per_second=20,
        message_burst=20,
        max_calls_per_user=3,
        max_participants_per_call=2,
        max_sdp_bytes=1000,
        max_token_lifetime_s=3600,
        idle_connection_s=0.5,
    )
    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=2.0, limits=limits)
    try:
        yield running
    finally:
        await running.stop()


async def test_limits_are_typed_refusals(strict_server):
    url = strict_server.url
    first, second = await connected(url, "alice"), await connected(url, "alice")
    clients = [first, second]
    try:
        with pytest.raises(LimitReachedError, match="connections"):
            await connected(url, "alice")
        for n in range(3):
            await first.make_call(CallType.DEFAULT, f"room{n}").get_or_create()
        with pytest.raises(LimitReachedError, match="calls open"):
            await first.make_call(CallType.DEFAULT, "room3").get_or_create()
        bob, carol = await connected(url, "bob"), await connected(url, "carol")
        clients += [bob, carol]
        await bob.make_call(CallType.DEFAULT, "room0").join()
        await carol.make_call(CallType.DEFAULT, "room0").join()
        with pytest.raises(LimitReachedError, match="participants"):
            await first.make_call(CallType.DEFAULT, "room0").join()
        with pytest.raises(MessageTooLargeError, match="SDP of"):
            await bob.request(
                p.SfuSignalRequest, cid="default:room0", role="publisher",
                sdp="v=0\r\n" + "a=x\r\n" * 400,
            )  # fmt: skip
        with pytest.raises(AuthError, match="lives too long"):
            await connected(url, "dave", issue_token(SECRET, "dave", ttl_seconds=7200))
    finally:
        for client in clients:
            await client.disconnect()


async def test_flooding_is_rate_limited_and_the_connection_recovers(strict_server):
    token = issue_token(SECRET, "flood")
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{strict_server.url}/ws") as ws:
        await ws.send_str(json.dumps({"type": "hello", "id": 0, "version": 1, "token": token}))
        assert (await ws.receive_json(timeout=5))["type"] == "reply"
        for n in range(60):
            await ws.send_str(json.dumps({"type": "leave_call", "id": n + 1, "cid": "x:y"}))
        errors = [await ws.receive_json(timeout=5) for _ in range(60)]
        codes = [e["code"] for e in errors]
        assert "rate_limited" in codes and "internal" not in codes
        # a refusal names the request it refuses, so the client's request fails at once
        assert all(e["id"] is not None for e in errors if e["code"] == "rate_limited")
        await asyncio.sleep(0.5)  # the bucket refills
        await ws.send_str(json.dumps({"type": "leave_call", "id": 99, "cid": "x:y"}))
        assert (await ws.receive_json(timeout=5))["code"] == "call_not_found"
    # an mctui client flooding the same way gets the refusal as its typed error
    flooder = await connected(strict_server.url, "flood2")
    try:
        requests = [flooder.request(p.LeaveCallRequest, cid="x:y") for _ in range(60)]
        outcomes = await asyncio.gather(*requests, return_exceptions=True)
        assert any(isinstance(o, RateLimitedError) for o in outcomes), outcomes[:3]
    finally:
        await flooder.disconnect()


async def test_a_connection_that_never_says_hello_is_closed(strict_server):
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{strict_server.url}/ws") as ws:
        error = await ws.receive_json(timeout=3)
        assert error["code"] == "unauthorized"
        closing = await ws.receive(timeout=3)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_full_server_refuses_new_connections_clearly(strict_server):
    clients = [await connected(strict_server.url, f"u{n}") for n in range(6)]
    try:
        with pytest.raises(LimitReachedError, match="is full"):
            await connected(strict_server.url, "one-too-many")
    finally:
        for client in clients:
            await client.disconnect()


def test_token_cli_scopes_to_a_call():
    import subprocess
    import sys

    from mctui.server.tokens import verify_claims

    result = subprocess.run(
        [sys.executable, "-m", "mctui", "token", "guest", "--call", "livestream:show",
         "--secret", SECRET],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert verify_claims(SECRET, result.stdout.strip()).call == "livestream:show"


async def test_an_expired_token_is_said_and_can_be_refreshed_mid_call(make_client, server):

    alice = await connected(server.url, "alice", issue_token(SECRET, "alice", ttl_seconds=1))
    try:
        call = alice.make_call(CallType.DEFAULT, "long-call")
        await call.join()
        await asyncio.sleep(1.5)
        with pytest.raises(AuthError, match="token expired"):
            await call.get()
        with pytest.raises(PermissionDeniedError, match="same user"):
            await alice.update_token(issue_token(SECRET, "mallory"))
        await alice.update_token(issue_token(SECRET, "alice", ttl_seconds=600))
        assert (await call.get()).id == "long-call"  # and the call never left
        assert call in alice.state.active_calls
    finally:
        await alice.disconnect()


async def test_calls_are_freed_when_empty_and_not_ringing_owner_kept(make_client, server):
    coordinator = server.coordinator
    owner = await make_client("owner")
    other = await make_client("other")
    call = owner.make_call(CallType.DEFAULT, "brief")
    await call.join()
    await other.make_call(CallType.DEFAULT, "brief").join()
    assert "default:brief" in coordinator.calls
    await other.make_call(CallType.DEFAULT, "brief").leave()
    assert "default:brief" in coordinator.calls  # someone is still in it
    await call.leave()
    assert "default:brief" not in coordinator.calls  # empty and not ringing: freed
    # a pending ring keeps a call alive until the ring ends
    ringing = owner.make_call(CallType.DEFAULT, "ringing")
    await ringing.ring(["nobody-online"])
    await ringing.leave()  # the caller leaves: the ring is cancelled, the call is freed
    assert "default:ringing" not in coordinator.calls
    info = await other.make_call(CallType.DEFAULT, "brief").get_or_create()
    assert info.created_by == "owner"  # recreated, still the owner's


async def test_disconnects_do_not_scan_every_call(make_client, server):
    """Thousands of calls on the server: a disconnect touches only the leaving user's calls."""
    coordinator = server.coordinator
    many = await make_client("many")
    for n in range(150):
        await many.make_call(CallType.DEFAULT, f"idle-{n}").get_or_create()
    guest = await make_client("guest")
    await guest.make_call(CallType.DEFAULT, "idle-0").join()
    looked_at: list[str] = []
    original = coordinator.book.maybe_free

    def spy(call):  # type: ignore[no-untyped-def]
        looked_at.append(call.cid)
        original(call)

    coordinator.book.maybe_free = spy  # type: ignore[method-assign]
    await guest.disconnect()
    await asyncio.sleep(0.1)
    assert set(looked_at) == {"default:idle-0"}  # not the 150 others


@pytest.mark.parametrize("call_type", ["livestream", "default"])
async def test_nobody_becomes_host_of_an_empty_call_by_claiming_the_role(
    make_client, server, call_type
):
    """alice hosts and leaves: the call is empty and forgotten. mallory rejoins it naming the
    host role, with no claim, with alice's claim, with one signed by another secret and with a
    user token in its place: she is never host, and once alice is back mallory cannot end
    the call. alice's own claim does give her role back."""
    import jwt as pyjwt

    from mctui.server.tokens import issue_role_claim

    alice = await make_client("alice")
    mallory = await make_client("mallory")

    async def join(client: Client, **fields: object) -> p.JoinResult:
        return await client.request(
            p.JoinCallRequest, call_type=call_type, call_id="stage", **fields
        )

    first = await join(alice)
    assert first.role == "host" or call_type == "default"
    cid = f"{call_type}:stage"
    await alice.request(p.LeaveCallRequest, cid=cid)
    assert cid not in server.coordinator.calls
    forged = issue_role_claim("another-secret-0123456789abcdef-xyz", "mallory", cid, "host")
    user_token = issue_token(SECRET, "mallory")
    typ_less = pyjwt.encode({"sub": "mallory", "cid": cid, "role": "host", "exp": 2**31},
                            "another-secret-0123456789abcdef-xyz", "HS256")  # fmt: skip
    for claim in (None, first.role_claim, forged, user_token, typ_less):
        taken = await join(mallory, rejoin_role="host", role_claim=claim)
        assert taken.role != "host" and (call_type == "default") == taken.can_publish
        await mallory.request(p.LeaveCallRequest, cid=cid)
    await join(mallory, rejoin_role="host")
    back = await join(alice, rejoin_role="host", role_claim=first.role_claim)
    assert back.role == first.role
    with pytest.raises(PermissionDeniedError):
        await mallory.request(p.EndCallRequest, cid=cid)
    assert sorted(x.user.id for x in server.coordinator.calls[cid].participants.values()) == [
        "alice",
        "mallory",
    ]


def test_a_role_claim_is_never_a_user_token():
    from mctui.server.tokens import issue_role_claim, verify_claims

    claim = issue_role_claim(SECRET, "alice", "default:x", "host")
    with pytest.raises(AuthError, match="role claim"):
        verify_claims(SECRET, claim)


async def test_a_connection_that_sends_no_request_is_closed_and_a_websocket_is_not(strict_server):
    """1,100 sockets that never sent a byte used to stay open for ever and, under a common
    file limit of 1,024, stopped every join. An idle socket is closed after
    ``idle_connection_s`` (0.5 s here); a WebSocket that is quiet for longer stays."""
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.port)
    try:
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # closed by the server
    finally:
        writer.close()
    quiet = await connected(strict_server.url, "quiet")
    try:
        await asyncio.sleep(2.0)  # four idle timeouts, and no request in between
        assert quiet.state.connection.value == "connected"
        await quiet.make_call(CallType.DEFAULT, "still-here").get_or_create()
    finally:
        await quiet.disconnect()


async def test_websocket_upgrades_come_from_the_servers_own_origin_or_none(server):
    """A page of another site cannot open the WebSocket in a visitor's browser; the guest page
    (the server's own origin) and non-browser clients (no Origin) can."""
    url = f"{server.url}/ws"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers={"Origin": "https://other-site.example"})
        assert refused.value.status == 403
        for headers in ({"Origin": server.url}, {}):
            ws = await http.ws_connect(url, headers=headers)
            await ws.close()
    allowed = ServerLimits(allowed_origins=("https://portal.example",))
    listed = await start_server(SECRET, "127.0.0.1", 0, limits=allowed)
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{listed.url}/ws",
                                       headers={"Origin": "https://portal.example"})  # fmt: skip
            await ws.close()
    finally:
        await listed.stop()


@pytest.mark.parametrize(
    ("soft", "hard", "raised_to", "cap"),
    [(1024, 1024, None, 224), (1024, 4096, 4096, 992), (20_000, 20_000, None, 2000)],
)
async def test_connections_are_capped_below_the_file_limit(monkeypatch, soft, hard, raised_to, cap):
    """The server reads the file limit at start, raises the soft limit to the hard one where it
    may, and serves no more connections than the descriptors left can carry (4 each, 128 kept
    back): 1,100 connections under a limit of 1,024 used to make every accept() fail."""
    import resource

    raised: list[int] = []
    monkeypatch.setattr(resource, "getrlimit", lambda what: (soft, hard))
    monkeypatch.setattr(resource, "setrlimit", lambda what, pair: raised.append(pair[0]))
    running = await start_server(SECRET, "127.0.0.1", 0)
    try:
        assert running.coordinator.limits.max_connections == cap
        assert raised == ([raised_to] if raised_to else [])
    finally:
        await running.stop()
