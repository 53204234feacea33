"""Trickle ICE (RFC 8838): with a STUN server, offers and answers go out with their host
candidates at once and the server-reflexive ones follow as ``sfu_candidate`` / ``sfu.candidate``;
without one, the full SDP carries every candidate, as before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helpers import wait_heard
from mctui import CallType
from mctui import protocol as p
from mctui.audio.backends import MemoryBackend
from mctui.audio.config import AudioConfigurationPolicy
from mctui.bots.signals import tone
from mctui.engine import Client, ClientOptions
from mctui.errors import BadRequestError
from mctui.network import IceServer, NetworkPolicy
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from stun_server import StunResponder, start_stun
from testbed import SECRET, connected_client

STUN_DELAY_S = 0.4


@pytest.fixture
async def stun() -> AsyncIterator[tuple[StunResponder, IceServer]]:
    responder, port = await start_stun(STUN_DELAY_S)
    responder.sent_at: list[float] = []  # type: ignore[misc,attr-defined]
    original = responder._send

    def record(data: bytes, addr: tuple[str, int]) -> None:
        responder.sent_at.append(time.monotonic())  # type: ignore[attr-defined]
        original(data, addr)

    responder._send = record  # type: ignore[method-assign]
    try:
        yield responder, IceServer(f"stun:127.0.0.1:{port}")
    finally:
        assert responder.transport is not None
        responder.transport.close()


def _spy(client: Client) -> list[tuple[float, str, dict[str, Any]]]:
    """Record every request the client sends (time, type, fields)."""
    sent: list[tuple[float, str, dict[str, Any]]] = []
    request = client.request

    async def spying(kind: Any, **fields: Any) -> Any:
        sent.append((time.monotonic(), kind.type_name(), fields))
        return await request(kind, **fields)

    client.request = spying  # type: ignore[method-assign,assignment]
    return sent


async def test_offers_do_not_wait_for_stun_and_candidates_follow(stun) -> None:  # type: ignore[no-untyped-def]
    responder, ice = stun
    sfu = EmbeddedSfu(NetworkPolicy(("127.0.0.1",), None, (ice,)))
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=sfu)
    clients: list[Client] = []
    try:

        def options(signal: Any) -> ClientOptions:
            return ClientOptions(
                audio_device=MemoryBackend(signal),
                audio_configuration_policy=AudioConfigurationPolicy.hifi(),
                ice_servers=(ice,),
            )

        talker = await connected_client(server.url, "talker", options(tone(700)), {}, clients)
        listener = await connected_client(server.url, "listener", options(None), {}, clients)
        sent = _spy(listener)
        events: list[p.SfuCandidateEvent] = []
        await talker.make_call(CallType.DEFAULT, "trickle").join()
        call = listener.make_call(CallType.DEFAULT, "trickle")
        handle = call.handle_event

        def spy_events(event: Any) -> None:
            if isinstance(event, p.SfuCandidateEvent):
                events.append(event)
            handle(event)

        call.handle_event = spy_events  # type: ignore[method-assign]
        await call.join()
        await wait_heard(call, "talker")
        await asyncio.sleep(STUN_DELAY_S + 0.5)  # let every late candidate arrive
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()

    offers = [(t, f) for t, kind, f in sent if kind == "sfu_signal"]
    candidates = [(t, f) for t, kind, f in sent if kind == "sfu_candidate"]
    assert offers and all(f["trickle"] for _, f in offers)
    for _, fields in offers:
        assert "typ srflx" not in fields["sdp"] and "a=end-of-candidates" not in fields["sdp"]
    # the offers went out before the STUN server answered anyone
    assert responder.sent_at and offers[0][0] < min(responder.sent_at)  # type: ignore[attr-defined]
    # then the reflexive candidates followed, each connection ending with end-of-candidates
    assert any("typ srflx" in (f["candidate"] or "") for _, f in candidates)
    ends = [f["role"] for _, f in candidates if f["candidate"] is None]
    assert sorted(ends) == ["publisher", "subscriber"]
    # and the SFU trickled its own
    assert any(e.candidate and "typ srflx" in e.candidate for e in events)
    assert sum(e.candidate is None for e in events) == 2


async def test_a_bad_candidate_is_a_typed_error_and_the_call_goes_on(media_client, bots) -> None:  # type: ignore[no-untyped-def]
    await bots("tone", 440, "room")
    user = await media_client("user")
    call = user.make_call(CallType.DEFAULT, "room")
    await call.join()
    with pytest.raises(BadRequestError, match="not an ICE candidate"):
        await user.request(
            p.SfuCandidateRequest,
            cid=call.cid, role="publisher", candidate="candidate:garbage", sdp_mid="0",
        )  # fmt: skip
    await wait_heard(call, "tone")


@pytest.mark.slow
async def test_a_slow_sfu_answer_does_not_cost_a_non_trickling_client_its_connection() -> None:
    """The SFU is told a STUN server that answers late; a client that gathers first (no ICE
    servers of its own: no trickle) waits seconds for the SFU's answer. Its keepalive pings are
    answered meanwhile (the server's reader answers them ahead of the queue), so it joins and
    never goes RECONNECTING."""
    from mctui.engine.state import ClientConnection

    # Answering after 5.5 s: a ping is sent every 2.5 s, so one lands in the first 2.5 s of
    # that wait and, were it queued behind the SFU's answer, would wait more than the 2.5 s a
    # client allows (3 s was tried: it need not catch one).
    responder, port = await start_stun(5.5)
    slow = IceServer(f"stun:127.0.0.1:{port}")
    sfu = EmbeddedSfu(NetworkPolicy(("127.0.0.1",), None, (slow,)))
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=sfu)
    clients: list[Client] = []
    try:
        user = await connected_client(
            server.url, "user", ClientOptions(audio_device="null"), {}, clients
        )
        seen: list[ClientConnection] = []
        user.state.observe("connection").listen(seen.append)
        started = time.monotonic()
        await user.make_call(CallType.DEFAULT, "slow").join()
        took = time.monotonic() - started
        assert took > 2.5, f"the SFU answered in {took:.1f} s: the test proves nothing"
        assert ClientConnection.RECONNECTING not in seen
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()
        assert responder.transport is not None
        responder.transport.close()
