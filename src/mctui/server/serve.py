"""``mctui serve``'s life: start the coordinator and its SFU, say so, run until a signal."""

from __future__ import annotations

import ssl

from mctui import protocol as p
from mctui.network import IceServer
from mctui.server.app import start_server
from mctui.server.limits import ServerLimits
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
) -> None:
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
    stop = stop_on_signals()  # before saying so: a SIGTERM right after the line stops cleanly
    print(f"mctui server listening on {running.url} (SFU: {sfu_name})", flush=True)
    try:
        await stop.wait()
    finally:
        await running.stop()
        print("mctui server stopped", flush=True)
