"""``mctui serve``'s life: start the coordinator and its SFU, say so, run until a signal."""

from __future__ import annotations

import ssl

from mctui import protocol as p
from mctui.network import IceServer
from mctui.server.app import start_server
from mctui.server.limits import ServerLimits
from mctui.server.metrics import start_metrics
from mctui.server.records import SfuBackend
from mctui.shutdown import stop_on_signals


class ListenError(RuntimeError):
    """The server could not listen where it was asked to (port in use, no such address)."""


async def serve_until_stopped(
    secret: str,
    host: str,
    port: int,
    ring_timeout: float,
    sfu: SfuBackend,
    limits: ServerLimits,
    sfu_name: str,
    ice_servers: tuple[IceServer, ...] = (),
    *,
    ssl_context: ssl.SSLContext | None = None,
    metrics: tuple[str, int] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``metrics``: (host, port) of a ``/metrics`` listener."""
    told = [
        p.IceServerInfo(urls=[s.url], username=s.username or "", credential=s.credential or "")
        for s in ice_servers
    ]
    try:
        running = await start_server(
            secret, host, port, ring_timeout=ring_timeout, sfu=sfu, limits=limits,
            ice_servers=told, ssl_context=ssl_context,
        )  # fmt: skip
    except OSError as exc:
        await sfu.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    scrape = None
    if metrics is not None:
        try:
            scrape = await start_metrics(running.coordinator, *metrics)
        except OSError as exc:
            await running.stop()
            raise ListenError(
                f"cannot listen on {metrics[0]}:{metrics[1]}: {exc.strerror}"
            ) from exc
    stop = stop_on_signals()  # before saying so: a SIGTERM right after the line stops cleanly
    print(f"mctui server listening on {running.url} (SFU: {sfu_name})", flush=True)
    if scrape is not None:
        print(f"metrics on {scrape.url}", flush=True)
    try:
        await stop.wait()
    finally:
        if scrape is not None:
            await scrape.stop()
        await running.stop()
        print("mctui server stopped", flush=True)
