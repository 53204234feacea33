"""Bad input to the coordinator: each gets a typed error reply; everyone else keeps being served."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from helpers import wait_until
from mctui import CallType, Client, User
from mctui import protocol as p
from mctui.engine.state import CallConnection
from mctui.errors import (
    AuthError,
    BadRequestError,
    InvalidStateError,
    LimitReachedError,
    NotAMemberError,
    PermissionDeniedError,
    ServerUnreachableError,
    VersionMismatchError,
)
from mctui.server.tokens import issue_token
from testbed import SECRET, real_offer


class RawClient:
    """A WebSocket speaking the protocol by hand, to send what a real client never would."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send_raw(self, data: str | bytes) -> dict:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)
        return await self.next_reply()

    async def send(self, **message: object) -> dict:
        return await self.send_raw(json.dumps(message))

    async def next_reply(self) -> dict:
        while True:
            msg = await self.ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if data["type"] in ("reply", "error"):
                return data


@pytest.fixture
async def raw(server) -> AsyncIterator:
    sessions: list[aiohttp.ClientSession] = []

    async def connect(user: str | None = "mallory", token: str | None = None) -> RawClient:
        http = aiohttp.ClientSession()
        sessions.append(http)
        ws = await http.ws_connect(server.url.replace("http", "ws") + "/ws")
        client = RawClient(ws)
        if user is not None:
            reply = await client.send(
                type="hello",
                id=0,
                version=p.PROTOCOL_VERSION,
                token=token or issue_token(SECRET, user),
            )
            assert reply["type"] == "reply", reply
        return client

    yield connect
    for http in sessions:
        await http.close()


async def _still_works(bystander) -> None:
    call = bystander.make_call(CallType.DEFAULT, f"alive-{time.monotonic_ns()}")
    await call.join()
    await call.leave()


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        ("this is not json", "bad_request", "not valid JSON"),
        ("[1, 2, 3]", "bad_request", "JSON object"),
        (json.dumps({"type": "teleport", "id": 3}), "bad_request", "unknown message type"),
        (json.dumps({"type": ["ping"], "id": 1}), "bad_request", "unknown message type"),
        (json.dumps({"type": {"a": 1}, "id": 2}), "bad_request", "unknown message type"),
        (json.dumps({"type": None}), "bad_request", "unknown message type"),
        (
            json.dumps({"type": "join_call", "id": 4, "call_type": 7, "call_id": "x"}),
            "bad_request",
            "call_type",
        ),
        (
            json.dumps({"type": "ring", "id": 5, "cid": "default:x", "members": "bob"}),
            "bad_request",
            "members",
        ),
        (
            json.dumps({"type": "join_call", "id": 6, "call_type": "default", "call_id": "a b"}),
            "bad_request",
            "call_id",
        ),
        ("x" * (p.MAX_MESSAGE_BYTES + 1), "too_large", "limit"),
        (
            json.dumps({"type": "leave_call", "id": 7, "cid": "default:nowhere"}),
            "call_not_found",
            "not found",
        ),
    ],
)
async def test_malformed_messages_get_typed_errors(raw, make_client, payload, code, words):
    bystander = await make_client("bystander")
    mallory = await raw()
    reply = await mallory.send_raw(payload)
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert words in reply["message"]
    await _still_works(bystander)
    # the bad client's own session survives too
    ok = await mallory.send(type="get_or_create_call", id=9, call_type="default", call_id="fine")
    assert ok["type"] == "reply"


@pytest.mark.parametrize("kind", [["ping"], {"a": 1}, 7, True])
async def test_a_type_that_is_not_a_string_is_refused_even_before_hello(raw, kind):
    mallory = await raw(user=None)
    reply = await mallory.send(type=kind, id=1)
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply


async def test_a_guest_cannot_add_members_and_nobody_passes_the_member_limit(make_client, server):
    """A guest's get_or_create may not add members; a member may, up to the limit, and a join
    reply carries a count of members, not the list (4,500 members made replies of 527 KB that
    an mctui client could no longer read)."""
    from testbed import connected

    owner = await make_client("owner")
    room = owner.make_call(CallType.DEFAULT, "crowd")
    await room.join()
    guest = await connected(server.url, "g1", issue_token(SECRET, "g1", call="default:crowd"))
    try:
        with pytest.raises(PermissionDeniedError, match="cannot add members"):
            await guest.request(p.GetOrCreateCallRequest, call_type="default",
                                call_id="crowd", members=["x1"])  # fmt: skip
    finally:
        await guest.disconnect()
    limit = server.coordinator.limits.max_members_per_call
    added = [f"m{n}" for n in range(limit - 1)]  # with the owner: exactly the limit
    for start in range(0, len(added), 200):
        await room.get_or_create(members=added[start : start + 200])
    with pytest.raises(LimitReachedError, match="members"):
        await room.get_or_create(members=["one-too-many"])
    joiner = await make_client("m7")
    joined = await joiner.request(p.JoinCallRequest, call_type="default",
                                  call_id="crowd")  # fmt: skip
    assert joined.call.members == [] and joined.call.member_count == limit
    assert [u.id for u in joined.call.participants] == ["owner", "m7"]


async def test_request_id_is_echoed_on_errors(raw):
    mallory = await raw()
    reply = await mallory.send(type="leave_call", id=42, cid="default:none")
    assert reply["id"] == 42


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (None, "missing token"),
        ("not-a-jwt", "invalid token"),
        (issue_token("some-other-secret-0123456789abcdefgh", "mallory"), "invalid token"),
        (
            jwt.encode({"sub": "mallory", "exp": int(time.time()) - 10}, SECRET, "HS256"),
            "expired",
        ),
        (
            jwt.encode(
                # made when the module is collected, minutes before the test runs: an hour
                {"sub": "mallory", "name": "Dave\x1b[2J\x1b[H", "exp": int(time.time()) + 3600},
                SECRET,
                "HS256",
            ),
            "control characters",
        ),
    ],
)
async def test_bad_tokens_are_refused(raw, make_client, token, words):
    bystander = await make_client("bystander")
    mallory = await raw(user=None)
    reply = await mallory.send(type="hello", id=1, version=p.PROTOCOL_VERSION, token=token or "")
    assert reply["type"] == "error" and reply["code"] == "unauthorized"
    assert words in reply["message"]
    again = await mallory.send(type="get_or_create_call", id=2, call_type="default", call_id="z")
    assert again["code"] == "unauthorized"
    await _still_works(bystander)


async def test_client_gets_typed_auth_error(server):
    from mctui import Client, User

    bad = Client(server.url, User("eve"), "garbage")
    with pytest.raises(AuthError, match="invalid token"):
        await bad.connect()
    await bad.disconnect()


async def test_version_mismatch_is_a_typed_error(raw, server):
    from mctui.engine.signaling import WebSocketSignaling

    old = await raw(user=None)
    reply = await old.send(type="hello", id=1, version=999, token=issue_token(SECRET, "old"))
    assert reply["code"] == "version_mismatch" and "upgrade" in reply["message"]

    class OldClient(WebSocketSignaling):
        async def _hello(self, token: str, resume: str | None) -> p.HelloResult:
            await self.request(p.HelloRequest, version=999, token=token)
            raise AssertionError("the server accepted version 999")

    signaling = OldClient(server.url)
    with pytest.raises(VersionMismatchError):
        await signaling.open(issue_token(SECRET, "eve"))
    await signaling.close()


async def test_unreachable_server_is_a_typed_error():
    from mctui import Client, User

    client = Client("http://127.0.0.1:9", User("eve"), issue_token(SECRET, "eve"))
    with pytest.raises(ServerUnreachableError, match="cannot reach"):
        await client.connect()
    await client.disconnect()


async def test_non_member_cannot_accept_someone_elses_ring(make_client):
    alice = await make_client("alice")
    bob = await make_client("bob")
    mallory = await make_client("mallory")
    call = bob.make_call(CallType.DEFAULT, "private")
    await call.ring(["alice"])
    await wait_until(alice.state, "incoming_call", lambda c: c is not None)
    stolen = mallory.make_call(CallType.DEFAULT, "private")
    with pytest.raises(NotAMemberError):  # the raw request, past any client-side check
        await mallory.request(p.AcceptCallRequest, cid=stolen.cid)
    assert alice.state.incoming_call is not None  # alice's ring is untouched
    await alice.state.incoming_call.accept()


async def test_ending_a_call_you_do_not_own(make_client):
    owner = await make_client("owner")
    guest = await make_client("guest")
    await owner.make_call(CallType.DEFAULT, "owned").join()
    call = guest.make_call(CallType.DEFAULT, "owned")
    await call.join()
    with pytest.raises(PermissionDeniedError, match="only the host"):
        await call.end()
    assert call in guest.state.active_calls


async def test_two_joins_of_one_call_by_one_connection(raw, make_client):
    bystander = await make_client("bystander")
    mallory = await raw()
    first = await mallory.send(type="join_call", id=1, call_type="default", call_id="twice")
    assert first["type"] == "reply"
    second = await mallory.send(type="join_call", id=2, call_type="default", call_id="twice")
    assert second["type"] == "error" and second["code"] == "invalid_state"
    assert "already joined" in second["message"]
    await _still_works(bystander)


async def test_engine_join_twice_is_idempotent_not_an_error(make_client):
    alice = await make_client("alice")
    call = alice.make_call(CallType.DEFAULT, "once")
    await call.join()
    await call.join()
    assert alice.state.active_calls == [call]
    with pytest.raises(InvalidStateError):
        await alice.make_call(CallType.DEFAULT, "never").reject()


# --- hardening: typed errors for hostile input, one identity per connection, token limits -------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 30_000 + "]" * 30_000, "bad_request"),  # deep nesting: RecursionError inside
        ('{"type": "join_call", "id": 1, "call_type": {"a": 1}, "call_id": ["x"]}', "bad_request"),
        (
            '{"type": "ring", "id": 2, "cid": "default:x", "members": [[1], {"b": 2}]}',
            "bad_request",
        ),
    ],
)
async def test_hostile_frames_get_typed_errors_never_internal(server, make_client, frame, code):
    import json

    import aiohttp

    bystander = await make_client("bystander")
    token = issue_token(SECRET, "mallory")
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{server.url}/ws") as ws:
        await ws.send_str(json.dumps({"type": "hello", "id": 0, "version": 1, "token": token}))
        await ws.receive_json(timeout=5)
        await ws.send_str(frame)
        reply = await ws.receive_json(timeout=5)
    assert reply["type"] == "error" and reply["code"] == code, reply
    await bystander.make_call(CallType.DEFAULT, "still-fine").get_or_create()


async def test_a_second_hello_on_a_connection_is_refused(make_client):
    alice = await make_client("alice")
    with pytest.raises(InvalidStateError, match="one identity per connection"):
        await alice.request(
            p.HelloRequest, version=p.PROTOCOL_VERSION,
            token=issue_token(SECRET, "mallory"),
        )  # fmt: skip
    assert (await alice.make_call(CallType.DEFAULT, "mine").get_or_create()).created_by == "alice"


def test_tokens_have_a_maximum_lifetime_and_a_user_id_charset():
    import jwt

    from mctui.server.tokens import MAX_TOKEN_LIFETIME_S, verify_token

    forever = jwt.encode({"sub": "eve", "exp": 32503680000}, SECRET, algorithm="HS256")  # 3000
    with pytest.raises(AuthError, match="lives too long"):
        verify_token(SECRET, forever)
    spaced = jwt.encode({"sub": "a b", "exp": 2_000_000_000}, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="not allowed"):
        verify_token(SECRET, spaced, max_lifetime_s=10**9)
    with pytest.raises(ValueError, match="at most 24 h"):
        issue_token(SECRET, "bob", ttl_seconds=MAX_TOKEN_LIFETIME_S + 1)
    with pytest.raises(ValueError, match="bad user id"):
        issue_token(SECRET, "x" * 200)


async def test_malformed_sdp_is_bad_request_and_leaves_no_peer_connection(sfu_server):
    from mctui.rtc.peer import open_peer_connections

    client = Client(sfu_server.url, User("sdp"), issue_token(SECRET, "sdp"))
    await client.connect()
    try:
        await client.request(p.JoinCallRequest, call_type="default", call_id="sdp-room")
        before = len(open_peer_connections())
        for sdp in ("v=0\r\nnonsense", "", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"):
            for role in ("publisher", "subscriber"):
                with pytest.raises(BadRequestError):
                    await client.request(
                        p.SfuSignalRequest, cid="default:sdp-room", role=role, sdp=sdp
                    )
        assert len(open_peer_connections()) == before
    finally:
        await client.disconnect()


async def test_everyone_leaving_a_room_at_once_is_not_an_internal_error(
    sfu_server, media_client, caplog
):
    """Participants whose connections close together (a bot swarm stopping, a network drop)
    each release the room; the last ones must not trip over each other."""
    import asyncio
    import logging

    from mctui import CallType

    clients = [await media_client(f"p{i}") for i in range(4)]
    for client in clients:
        await client.make_call(CallType.DEFAULT, "together").join()
    caplog.set_level(logging.ERROR)
    await asyncio.gather(*(client.disconnect() for client in clients))
    await asyncio.sleep(0.5)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "default:together" not in sfu_server.coordinator.sfu.rooms


def test_clients_ignore_fields_they_do_not_know_and_the_server_does_not():
    """A newer server may add a field to a reply or event without breaking older clients; a
    request with a field the server does not know is still a typed error."""
    import pydantic

    from mctui import protocol as p

    reply = p.SERVER_MESSAGE_ADAPTER.validate_json(
        '{"type": "reply", "id": 1, "result": {}, "added_later": true}'
    )
    assert isinstance(reply, p.Reply)
    join = p.JoinResult.model_validate(
        {"call": {"cid": "default:a", "type": "default", "id": "a", "created_by": "x"},
         "role": "member", "can_publish": True, "sfu": {"kind": "embedded", "added": 1}}
    )  # fmt: skip
    assert join.sfu.kind == "embedded"
    with pytest.raises(pydantic.ValidationError):
        p.REQUEST_ADAPTER.validate_python({"type": "ping", "id": 1, "added_later": True})


async def test_another_users_resume_id_takes_over_nothing(raw, make_client, server):
    """A resume id is honoured only for the user it was made by: mallory, who learnt alice's,
    gets a fresh connection, is in none of alice's calls, and alice stays connected and in
    her call (a resume would have dropped alice's connection and taken her place)."""
    alice = await make_client("alice")
    room = alice.make_call(CallType.DEFAULT, "held")
    await room.join()
    resume_id = next(s.resume_id for s in server.coordinator.sessions.values()
                     if s.user is not None and s.user.id == "alice")  # fmt: skip
    assert resume_id
    mallory = await raw(user=None)
    reply = await mallory.send(
        type="hello", id=1, version=p.PROTOCOL_VERSION,
        token=issue_token(SECRET, "mallory"), resume=resume_id,
    )  # fmt: skip
    assert reply["type"] == "reply" and reply["result"]["resumed"] is False
    call = server.coordinator.calls["default:held"]
    assert sorted(x.user.id for x in call.participants.values()) == ["alice"]
    assert alice.state.connection.value == "connected"
    await _still_works(alice)
    assert room.state.connection is CallConnection.JOINED


def _without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefix))


async def test_an_offer_aiortc_would_take_but_cannot_use_is_refused_at_once(sfu_server, caplog):
    """Offers that aiortc takes and fails on later (a dead task, an ``internal`` at the next
    candidate) are refused at the offer with bad_request, for both connections; a trickled
    candidate with such an address too. Nothing is left open and nothing is logged as an
    error; the untouched offer still works."""
    import asyncio
    import logging

    from mctui.rtc.peer import open_peer_connections

    caplog.set_level(logging.ERROR)
    good = await real_offer()
    broken = {
        "a connection address that is no address": good.replace(
            "c=IN IP4 127.0.0.1", "c=IN IP4 999.1.1.1"
        ),
        "no fingerprint": _without(good, "a=fingerprint:"),
        "no ICE credentials": _without(good, "a=ice-pwd:"),
        "a candidate address that is no address": good.replace(" 127.0.0.1 ", " 999.1.1.1 "),
        # found by the fuzzer: aiortc took it, then failed on reading its own description
        "an a=rtcp address that is no address": good.replace(
            "a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 99999"
        ),
    }
    client = Client(sfu_server.url, User("sdp"), issue_token(SECRET, "sdp"))
    await client.connect()
    try:
        await client.request(p.JoinCallRequest, call_type="default",
                             call_id="offers")  # fmt: skip
        before = len(open_peer_connections())
        for why, sdp in broken.items():
            assert sdp != good, why
            for role in ("publisher", "subscriber"):
                with pytest.raises(BadRequestError, match="cannot be used"):
                    await client.request(p.SfuSignalRequest, cid="default:offers",
                                         role=role, sdp=sdp)  # fmt: skip
        assert len(open_peer_connections()) == before
        answer = await client.request(p.SfuSignalRequest, cid="default:offers",
                                      role="publisher", sdp=good)  # fmt: skip
        assert answer.sdp.startswith("v=0")
        for bad in ("candidate:1 1 udp 2130706431 999.1.1.1 5000 typ host",
                    "candidate:1 1 udp 2130706431 127.0.0.1 99999 typ host"):  # fmt: skip
            with pytest.raises(BadRequestError, match=r"address|port"):
                await client.request(p.SfuCandidateRequest, cid="default:offers",
                                     role="publisher", candidate=bad, sdp_mid="0")  # fmt: skip
        await asyncio.sleep(0.3)
    finally:
        await client.disconnect()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_huge_request_header_gets_400_and_one_quiet_log_line(server, caplog):
    """A 1 MB header is the client's fault: it gets 400, and the log an INFO line instead of
    an ERROR with a traceback (which a flood of them would turn into a storm)."""
    import asyncio
    import logging

    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="aiohttp.server")  # whatever a test before set
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            assert (await reader.read(64)).startswith(b"HTTP/1.0 400")
    finally:
        writer.close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("refused a malformed request" in r.getMessage() for r in caplog.records)
