"""Staying up, in process: the reconnect backoff, media rebuilt while the signalling stays up,
and the roles a server restart must give back. The real-process versions (SIGKILL, blackholes,
frozen bots) are in ``test_reconnect.py`` and ``test_networks.py``."""

from __future__ import annotations

import asyncio
import random

import pytest

from helpers import wait_heard, wait_until
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui import protocol as p
from mctui.engine.reconnect import Backoff
from mctui.engine.state import CallConnection, Participant
from mctui.errors import PermissionDeniedError
from mctui.rtc.peer import close_peer_connection
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.tokens import issue_token

SECRET = "resume-test-secret-0123456789abcdef"


def test_backoff_tries_within_250_ms_then_doubles_to_a_5_s_cap_with_jitter() -> None:
    rng = random.Random(7)
    backoff = Backoff()
    firsts = [backoff.delay(1, rng) for _ in range(200)]
    assert max(firsts) <= 0.25 and min(firsts) >= 0.0
    for attempt, step in ((2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (6, 5.0), (12, 5.0)):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step, (attempt, min(delays))
        assert max(delays) - min(delays) > step / 4  # jittered: a crowd spreads out


async def test_media_that_fails_while_signalling_is_up_is_rebuilt(media_client, sfu_server):  # type: ignore[no-untyped-def]
    """The SFU's side of alice's connections dies (as when ICE consent is lost): alice's call
    goes RECONNECTING, builds new connections over the same signalling and hears bob again;
    bob never sees her leave."""
    alice = await media_client("alice", tone_hz=440)
    bob = await media_client("bob", tone_hz=660)
    a = alice.make_call(CallType.DEFAULT, "fragile")
    b = bob.make_call(CallType.DEFAULT, "fragile")
    await a.join()
    await b.join()
    await wait_heard(a, "bob")
    await wait_heard(b, "alice")
    departures = []
    b.state.observe("participants").listen(
        lambda people: departures.append(1) if len(people) < 2 else None
    )
    sfu: EmbeddedSfu = sfu_server.coordinator.sfu
    peer = next(x for x in sfu.rooms[a.cid].peers.values() if x.user_id == "alice")
    states: list[CallConnection] = []
    a.state.observe("connection").listen(states.append)
    for pc in (peer.publisher, peer.subscriber):
        assert pc is not None
        await close_peer_connection(pc)
    await wait_until(a.state, "connection", lambda c: c is CallConnection.RECONNECTING, timeout=10)
    await wait_until(a.state, "connection", lambda c: c is CallConnection.JOINED, timeout=10)
    await wait_heard(a, "bob")
    await wait_heard(b, "alice")
    assert states[:2] == [CallConnection.RECONNECTING, CallConnection.JOINED]
    assert departures == []


async def test_a_restart_gives_each_rejoining_client_its_own_role_back() -> None:
    """After a restart the server knows no calls. Each client shows the role claim the first
    server signed at its join. A viewer who rejoins first recreates the livestream but stays
    a viewer; the host who follows is host again and can publish and end it. A client without
    a claim, or with someone else's, is a viewer whatever role it names."""
    server = await start_server(SECRET, "127.0.0.1", 0)
    clients: list[Client] = []

    async def connect(user: str) -> Client:
        client = Client(server.url, User(user), issue_token(SECRET, user), ClientOptions(
            audio_device="null"))  # fmt: skip
        await client.connect()
        clients.append(client)
        return client

    async def rejoin(
        client: Client, role: p.MemberRole | None, claim: str | None = None
    ) -> p.JoinResult:
        return await client.request(
            p.JoinCallRequest, call_type="livestream", call_id="show",
            rejoin_role=role, role_claim=claim,
        )  # fmt: skip

    try:
        viewer, host, late = await connect("viewer"), await connect("host"), await connect("late")
        claims = {}
        for client in (host, viewer):
            joined = await rejoin(client, None)
            claims[client.user.id] = joined.role_claim
            await client.request(p.LeaveCallRequest, cid="livestream:show")
        seen: dict[str, list[str]] = {c.user.id: [] for c in clients}
        for client in clients:
            client.state.observe("connection").listen(
                lambda c, uid=client.user.id: seen[uid].append(c.value)  # type: ignore[misc]
            )
        port = server.port
        await server.stop()  # the clients reconnect by themselves to the new server
        server = await start_server(SECRET, "127.0.0.1", port)
        for client in clients:
            await wait_until(client.state, "connection", lambda c, s=seen[client.user.id]: (  # type: ignore[misc]
                c.value == "connected" and "reconnecting" in s), 15)  # fmt: skip
        first = await rejoin(viewer, p.MemberRole.HOST, claims["viewer"])
        assert (first.role, first.can_publish) == ("viewer", False)
        again = await rejoin(viewer, p.MemberRole.VIEWER)  # a resumed client's resync: no error
        assert again.role == "viewer"
        second = await rejoin(host, p.MemberRole.HOST, claims["host"])
        assert (second.role, second.can_publish) == ("host", True)
        third = await rejoin(late, p.MemberRole.HOST, claims["host"])  # the host's claim, stolen
        assert third.role == "viewer"
        try:
            await viewer.request(p.EndCallRequest, cid="livestream:show")
            raise AssertionError("a viewer who recreated the call could end it")
        except PermissionDeniedError:
            pass
        await host.request(p.EndCallRequest, cid="livestream:show")
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()


async def test_a_client_gives_up_after_its_reconnect_timeout_and_says_why() -> None:
    server = await start_server(SECRET, "127.0.0.1", 0)
    client = Client(server.url, User("quitter"), issue_token(SECRET, "quitter"), ClientOptions(
        audio_device="null", reconnect_timeout_s=1.5))  # fmt: skip
    await client.connect()
    call = client.make_call(CallType.DEFAULT, "doomed")
    await call.join()
    await server.stop()
    await wait_until(client.state, "connection", lambda c: c.value == "disconnected", timeout=15)
    assert client.connection_error is not None
    assert "lost the connection" in client.connection_error.message
    assert call.state.connection is CallConnection.LEFT
    assert (call.state.left_reason or "").startswith("connection lost")
    assert client.state.active_calls == []
    await client.disconnect()
    await asyncio.sleep(0)


async def test_a_restart_keeps_the_hand_mute_and_the_hand_suspension() -> None:
    """The server restarts and every call is rejoined. What the user set by hand stays set:
    bob hears carol again in the room where alice muted herself, but not alice; and when alice
    leaves her focused room, the policy resumes the room she did not suspend by hand ("one"),
    not the one she did ("two"), though "two" held the audio more recently."""
    from mctui.audio.backends import MemoryBackend
    from mctui.bots.signals import tone
    from spectrum import band_level_db

    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu())
    clients: list[Client] = []

    async def connect(user: str, hz: float | None) -> Client:
        backend = MemoryBackend(tone(hz) if hz is not None else None)
        client = Client(server.url, User(user), issue_token(SECRET, user), ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi(),
            reconnect_timeout_s=20))  # fmt: skip
        await client.connect()
        clients.append(client)
        return client

    try:
        alice, bob = await connect("alice", 440), await connect("bob", None)
        carol = await connect("carol", 660)
        rooms = {name: alice.make_call(CallType.DEFAULT, name) for name in ("one", "two", "three")}
        for call in rooms.values():
            await call.join()
        await rooms["two"].suspend_audio()  # by hand (the policy had suspended it already)
        await rooms["three"].set_microphone_enabled(False)  # by hand
        ear = bob.make_call(CallType.DEFAULT, "three")
        await ear.join()
        await carol.make_call(CallType.DEFAULT, "three").join()
        await wait_heard(ear, "carol", played=True)

        calls = [*rooms.values(), ear]
        seen: list[list[CallConnection]] = [[] for _ in calls]
        for call, states in zip(calls, seen, strict=True):
            call.state.observe("connection").listen(states.append)
        reasons: list[str | None] = []
        alice.state.observe("connection_reason").listen(reasons.append)
        port = server.port
        await server.stop()
        server = await start_server(SECRET, "127.0.0.1", port, sfu=EmbeddedSfu())
        for call, states in zip(calls, seen, strict=True):
            await wait_until(call.state, "connection", lambda c, s=states: (  # type: ignore[misc]
                c is CallConnection.JOINED and CallConnection.RECONNECTING in s), 20)  # fmt: skip
        await wait_heard(ear, "carol", played=True)
        bob.audio.backend.clear_output()  # type: ignore[union-attr,attr-defined]
        await asyncio.sleep(1.0)
        heard = bob.audio.backend.output()  # type: ignore[union-attr,attr-defined]
        # a server that stops says so with a close frame (a killed one does not: test_reconnect)
        assert next(r for r in reasons if r is not None) == "closed by the server"
        assert band_level_db(heard, 660) > -30  # carol: the room works again
        # alice: still muted by her own hand. Heard, her tone reads -6 to -10 dB; glitches of
        # the rebuilt playout spread up to -49 dB over every band (seen once in a full CI run)
        assert band_level_db(heard, 440) < -40
        assert rooms["three"].muted_by_user and not rooms["three"].state.microphone_enabled

        await rooms["three"].leave()
        assert not rooms["one"].state.is_audio_suspended
        assert rooms["two"].state.is_audio_suspended and rooms["two"].suspended_by_user
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()


@pytest.mark.slow
async def test_the_wait_between_tries_probes_the_port_and_ends_when_it_answers() -> None:
    """Between reconnect attempts the client only probes the server's port: a port nobody
    listens on is never reported reachable (no real attempt then), and one that starts
    listening ends a long wait at the next probe, not at the end of the backoff step."""
    from mctui.engine.reconnect import PROBE_EVERY_S, REFUSED, wait_before_retry

    listener = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    listener.close()
    await listener.wait_closed()
    # nothing listens: each probe is refused, and the wait says so (not "no answer")
    assert await wait_before_retry(url, 3 * PROBE_EVERY_S, probe=True) == REFUSED

    async def listen_soon() -> asyncio.Server:
        await asyncio.sleep(PROBE_EVERY_S)
        return await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)

    opened = asyncio.create_task(listen_soon())
    try:
        async with asyncio.timeout(30):  # a backoff step of 60 s would not end in time
            assert await wait_before_retry(url, 60.0, probe=True) is None
    finally:
        server = await opened
        server.close()
        await server.wait_closed()


@pytest.mark.slow
async def test_after_a_restart_the_others_come_back_instead_of_leaving_and_joining(monkeypatch):
    """The server restarts; alice rejoins first. bob, who rejoins a moment later, was away and
    is back: alice never sees him leave and join again. carol, who does not come back within
    the grace period, leaves with reason timeout."""
    import mctui.engine.call

    monkeypatch.setattr(mctui.engine.call, "REJOIN_GRACE_S", 3.0, raising=False)
    server = await start_server(SECRET, "127.0.0.1", 0)
    clients: list[Client] = []

    async def connect(user: str) -> Client:
        client = Client(server.url, User(user), issue_token(SECRET, user), ClientOptions(
            audio_device="null", reconnect_timeout_s=30))  # fmt: skip
        await client.connect()
        clients.append(client)
        return client

    try:
        alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
        room = alice.make_call(CallType.DEFAULT, "back")
        for client in (alice, bob, carol):
            await (room if client is alice else client.make_call(CallType.DEFAULT, "back")).join()
        await wait_until(room.state, "participants", lambda ps: len(ps) == 3)
        # the order of rejoins, made certain: bob only once alice is back; carol never
        alice_back = asyncio.Event()
        room.state.observe("connection").listen(
            lambda c: alice_back.set() if c is CallConnection.JOINED else None
        )
        reopen = bob._open_signaling

        async def after_alice(patience: float):  # type: ignore[no-untyped-def]
            await alice_back.wait()
            return await reopen(patience)

        bob._open_signaling = after_alice  # type: ignore[method-assign]
        carol.token = "not-a-token-any-more"  # her reconnect is refused: she gives up
        seen: list[dict[str, bool]] = []
        room.state.observe("participants").listen(
            lambda ps: seen.append({x.user.id: x.away for x in ps if not x.is_local})
        )
        port = server.port
        await server.stop()
        server = await start_server(SECRET, "127.0.0.1", port)

        def bob_back(ps: list[Participant]) -> bool:
            back = any(x.user.id == "bob" and not x.away for x in ps)
            return back and any(s.get("bob") for s in seen)  # after being away

        await wait_until(room.state, "participants", bob_back, 15)
        await wait_until(room.state, "participants", lambda ps: "carol" not in {
            x.user.id for x in ps}, 15)  # fmt: skip
        assert all("bob" in s for s in seen), f"bob left and joined again: {seen}"
        assert any(s.get("carol") for s in seen)  # away first
        assert room.departure_reasons["carol"] == "timeout"
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()
