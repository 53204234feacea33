"""``/metrics`` in Prometheus's text format, on a listener of its own (``--metrics-port``).

Off by default, and never on the public port: an operator scrapes it from inside. Every figure
is read at scrape time (a custom collector over the coordinator's state and its ``Tally``), so
nothing on the request path touches the metrics library. The event loop's lag is sampled by a
task here: how late a 0.5 s sleep wakes, the worst of each scrape interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mctui.server.coordinator import Coordinator

LAG_PERIOD_S = 0.5


class LoopLag:
    """The worst lateness of a periodic wake-up since the last read."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PERIOD_S
            await asyncio.sleep(LAG_PERIOD_S)
            self.worst_s = max(self.worst_s, loop.time() - due)

    def take(self) -> float:
        worst, self.worst_s = self.worst_s, 0.0
        return worst

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class CoordinatorCollector(Collector):
    """The coordinator's figures as metric families, read when scraped."""

    def __init__(self, coordinator: Coordinator, lag: LoopLag) -> None:
        self._coordinator = coordinator
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        coordinator = self._coordinator
        tally = coordinator.tally
        yield GaugeMetricFamily(
            "mctui_connections", "Open client connections.", value=len(coordinator.sessions)
        )
        live = [call for call in coordinator.calls.values() if not call.ended]
        yield GaugeMetricFamily("mctui_calls", "Calls that have not ended.", value=len(live))
        participants = GaugeMetricFamily(
            "mctui_participants", "Participants in calls, by SFU backend.", labels=["sfu"]
        )
        in_calls = sum(len(call.participants) for call in live)
        participants.add_metric([coordinator.sfu.kind], in_calls)
        yield participants
        yield CounterMetricFamily(
            "mctui_connections_opened", "Client connections opened.",
            value=tally.connections_opened,
        )  # fmt: skip
        messages = CounterMetricFamily(
            "mctui_messages", "Client requests, by type.", labels=["type"]
        )
        for kind, count in sorted(tally.messages.items()):
            messages.add_metric([kind], count)
        yield messages
        errors = CounterMetricFamily("mctui_errors", "Error replies, by code.", labels=["code"])
        for code, count in sorted(tally.errors.items()):
            errors.add_metric([code], count)
        yield errors
        for figure, name, text in (
            (tally.connections_lost, "mctui_connections_lost", "Connections lost (no goodbye)."),
            (tally.resumes, "mctui_resumes", "Connections a client took over after a drop."),
            (tally.rejoins, "mctui_rejoins", "Calls joined again after a drop, not resumed."),
        ):
            yield CounterMetricFamily(name, text, value=figure)
        sfu_object = coordinator.sfu
        for attribute, name, text in (
            ("frames_forwarded", "mctui_sfu_frames_forwarded", "Audio frames the SFU forwarded."),
            ("frames_repaired", "mctui_sfu_frames_repaired", "Frames RED repaired on the way in."),
        ):
            counted = getattr(sfu_object, attribute, None)  # the embedded SFU counts them
            if isinstance(counted, int):
                yield CounterMetricFamily(name, text, value=counted)
        instances = getattr(sfu_object, "instances", None)
        if instances:
            up = GaugeMetricFamily(
                "mctui_janus_instance_up", "1 while a Janus instance answers.", labels=["url"]
            )
            for instance in instances:
                up.add_metric([instance.url], 1.0 if instance.alive else 0.0)
            yield up
        yield GaugeMetricFamily(
            "mctui_event_loop_lag_seconds",
            "The worst lateness of the server's event loop since the last scrape.",
            value=self._lag.take(),
        )


@dataclass
class MetricsServer:
    url: str
    runner: web.AppRunner
    lag: LoopLag

    async def stop(self) -> None:
        await self.lag.stop()
        await self.runner.cleanup()


async def start_metrics(coordinator: Coordinator, host: str, port: int) -> MetricsServer:
    """Serve ``/metrics`` for ``coordinator`` on ``host:port`` (port 0: any free one)."""
    lag = LoopLag()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoordinatorCollector(coordinator, lag))

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:
        bound = int(address[1])
    lag.start()
    return MetricsServer(f"http://{host}:{bound}/metrics", runner, lag)
