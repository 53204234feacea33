"""``/metrics`` during a call: Prometheus's text format, on its own listener, figures that move."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from mctui import CallType, ClientOptions
from mctui.errors import CallNotFoundError
from mctui.server.app import start_server
from mctui.server.metrics import start_metrics
from scrape import scrape
from testbed import SECRET, connected_client


async def test_a_scrape_during_a_call_counts_connections_calls_participants_and_errors():
    server = await start_server(SECRET, "127.0.0.1", 0)
    metrics = await start_metrics(server.coordinator, "127.0.0.1", 0)
    clients: list = []  # type: ignore[type-arg]
    try:
        assert metrics.url != server.url + "/metrics"  # a listener of its own
        before = await scrape(metrics.url)
        assert before["mctui_connections"] == 0 and before["mctui_calls"] == 0
        for user in ("alice", "bob"):
            client = await connected_client(
                server.url, user, ClientOptions(audio_device="null"), {}, clients
            )
            await client.make_call(CallType.DEFAULT, "standup").join()
        with pytest.raises(CallNotFoundError):  # one error reply, by its code
            await clients[0].make_call(CallType.DEFAULT, "nobody-here").get()
        during = await scrape(metrics.url)
        assert during["mctui_connections"] == 2
        assert during["mctui_calls"] == 1
        assert sum(v for k, v in during.items() if k.startswith("mctui_participants{")) == 2
        assert during['mctui_messages_total{type="join_call"}'] >= 2
        assert during['mctui_errors_total{code="call_not_found"}'] == 1
        assert during["mctui_connections_opened_total"] == 2
        assert 0 <= during["mctui_event_loop_lag_seconds"] < 5
        async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as answer:
            assert answer.status == 404  # not on the public port
    finally:
        for client in clients:
            await client.disconnect()
        await metrics.stop()
        await server.stop()


async def test_the_sfu_figures_move_while_someone_talks(sfu_server, media_client):
    """Frames forwarded count up while a talker is heard (and the repaired ones are there)."""
    from helpers import wait_heard

    metrics = await start_metrics(sfu_server.coordinator, "127.0.0.1", 0)
    try:
        talker = await media_client("talker", 440)
        listener = await media_client("listener")
        await talker.make_call(CallType.DEFAULT, "room").join()
        call = listener.make_call(CallType.DEFAULT, "room")
        await call.join()
        await wait_heard(call, "talker", played=True)
        first = await scrape(metrics.url)
        await asyncio.sleep(0.5)
        second = await scrape(metrics.url)
        assert (
            second["mctui_sfu_frames_forwarded_total"] > first["mctui_sfu_frames_forwarded_total"]
        )
        assert second["mctui_sfu_frames_repaired_total"] >= 0
    finally:
        await metrics.stop()
