"""The coordinator over HTTP: one WebSocket per connected user at ``/ws``, health at ``/health``,
and the guests' web client at ``/`` (``server/web``: see ``web_client.py``).

Binds 127.0.0.1 unless told otherwise. Each connection gets a bounded outgoing queue; a client too
slow to drain it is disconnected rather than allowed to grow the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import resource
import ssl
from dataclasses import dataclass

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel

from mctui import protocol as p
from mctui.server.coordinator import Coordinator, Session, SfuBackend
from mctui.server.limits import ServerLimits
from mctui.server.web_client import add_web_client

log = logging.getLogger(__name__)

OUTGOING_QUEUE = 1024
#: Requests read but not handled yet, per connection.
INBOX = 64
COORDINATOR_KEY = web.AppKey("coordinator", Coordinator)


class WebSocketSession(Session):
    """A connected client: messages to it are queued and written by one writer task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        super().__init__()
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=OUTGOING_QUEUE)
        self.overflowed = False

    def send(self, message: BaseModel) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message.model_dump_json())
        except asyncio.QueueFull:
            self.overflowed = True
            log.warning("client %s is not reading; disconnecting it", self.user)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(None)

    def drop(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def write_loop(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None or self.ws.closed:
                await self.ws.close()
                return
            await self.ws.send_str(text)


async def _ws_handler(request: web.Request) -> web.StreamResponse:
    coordinator = request.app[COORDINATOR_KEY]
    limits = coordinator.limits
    if len(coordinator.sessions) >= limits.max_connections:
        # a clear refusal before the socket is upgraded, instead of running out of descriptors
        return web.Response(
            status=503, text=f"server full: {limits.max_connections} connections; try later"
        )
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_allowed(origin, request, limits):
        # another site's page must not speak for a visitor whose browser holds a guest link
        return web.Response(status=403, text=f"origin {origin[:100]!r} is not allowed here")
    # Frames up to 1 MiB reach the coordinator, which answers those over 64 KiB with a typed
    # `too_large` error; only absurd frames make aiohttp drop the connection.
    ws = web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=16 * p.MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    session = WebSocketSession(ws)
    coordinator.attach(session)
    loop = asyncio.get_running_loop()
    writer = loop.create_task(session.write_loop())
    deadline = loop.call_later(limits.auth_timeout_s, _close_unauthenticated, session)
    # Requests are handled in order by one worker; the reader only answers keepalive pings
    # itself, so a request that takes long (an SFU gathering candidates from a STUN server that
    # does not answer) never makes the client think the server is gone.
    inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(maxsize=INBOX)
    worker = loop.create_task(_work(coordinator, session, inbox))
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                if session.user is not None and _is_ping(msg.data):
                    await coordinator.handle_text(session, msg.data)
                else:
                    await inbox.put(msg.data)  # a full inbox stops the reading: backpressure
            elif msg.type is WSMsgType.ERROR:
                break
    finally:
        await inbox.put(None)  # what the client sent before it went is still handled
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        deadline.cancel()
        # No answer to the heartbeat, or a network error: the client may come back (grace).
        # A close frame or an orderly end of the stream: it quit, or its process died.
        lost = _connection_lost(ws.exception())
        await coordinator.detach(session, lost=lost)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await writer
        await ws.close()
    return ws


async def _work(
    coordinator: Coordinator, session: WebSocketSession, inbox: asyncio.Queue[str | bytes | None]
) -> None:
    while (raw := await inbox.get()) is not None:
        await coordinator.handle_text(session, raw)
        # A backlog of frames is handled without suspending; yield after each one so a flood on
        # one connection never starves the others or the SFU's media tasks.
        await asyncio.sleep(0)


def _is_ping(raw: str | bytes) -> bool:
    """A keepalive ping (small, and its ``type`` says so), answered ahead of the queue."""
    if len(raw) > 64:
        return False
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("type") == "ping"


def _connection_lost(exc: BaseException | None) -> bool:
    """How a WebSocket ended says whether its client may come back. No answer to the heartbeat
    (a frozen client, a path that went silent) or a network error: lost, it may reconnect. A
    close frame, an end of stream or a reset (its process died, or it closed with data
    unread): gone."""
    if exc is None:
        return False
    log.debug("connection ended with %r", exc)
    return not isinstance(exc, ConnectionResetError | BrokenPipeError)


def _close_unauthenticated(session: WebSocketSession) -> None:
    """No valid hello in time: say so, then close (the writer sends the error first)."""
    if session.user is not None:
        return
    session.send(
        p.ErrorReply(code="unauthorized", message="no valid 'hello' within the time allowed")
    )
    with contextlib.suppress(asyncio.QueueFull):
        session.queue.put_nowait(None)


class ClientFaultFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a 1 MB header, a broken request line) as an
    ERROR with a traceback, though the fault is the client's and the client got its 400: such a
    record becomes one INFO line. Real server errors are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= (error.code or 0) < 500:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "refused a malformed request: %s", (type(error).__name__,)
            record.exc_info = record.exc_text = None
        return True


_CLIENT_FAULTS = ClientFaultFilter()


#: File descriptors kept for what is not a client connection: logs, Janus and STUN sockets.
FD_RESERVE = 128
#: Descriptors one connected client may need besides its TCP socket: the embedded SFU's UDP
#: sockets of its publisher and subscriber connections, with room to spare.
FDS_PER_CONNECTION = 4


def within_file_limit(limits: ServerLimits) -> ServerLimits:
    """``limits`` with ``max_connections`` cut to what the process's file limit can serve,
    after raising the soft limit to the hard one where that is allowed: connections beyond it
    would make ``accept()`` fail for everyone (and the SFU's sockets with it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
        if wanted > soft:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                soft = wanted
    cap = max(16, (soft - FD_RESERVE) // FDS_PER_CONNECTION)
    if cap >= limits.max_connections:
        return limits
    log.warning(
        "the file limit (%d) serves at most %d connections, not %d: max_connections is %d",
        soft, cap, limits.max_connections, cap,
    )  # fmt: skip
    return limits.model_copy(update={"max_connections": cap})


def _origin_allowed(origin: str, request: web.Request, limits: ServerLimits) -> bool:
    """A browser's page may open the WebSocket from the server's own origin (the guest page)
    or one listed in ``[server] allowed_origins``; clients that are not browsers send no
    ``Origin`` and are not asked."""
    allowed = {o.rstrip("/").lower() for o in limits.allowed_origins}
    return origin.rstrip("/").lower() in {own_origin(request, limits).lower(), *allowed}


def own_origin(request: web.Request, limits: ServerLimits) -> str:
    """The origin the browser saw: this server's, or, for a request from a trusted reverse
    proxy, the one its ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` name (TLS ending there)."""
    scheme, host = request.scheme, request.host
    if request.remote and _trusted(request.remote, limits.trusted_proxies):
        scheme = request.headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", host).split(",")[0].strip()
    return f"{scheme}://{host}"


def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": p.PROTOCOL_VERSION})


def create_app(coordinator: Coordinator) -> web.Application:
    app = web.Application(client_max_size=p.MAX_MESSAGE_BYTES)
    app[COORDINATOR_KEY] = coordinator
    app.router.add_get("/ws", _ws_handler)
    app.router.add_get("/health", _health)
    add_web_client(app)
    return app


@dataclass
class RunningServer:
    """A started server: its URL, its coordinator, and how to stop it."""

    url: str
    host: str
    port: int
    coordinator: Coordinator
    runner: web.AppRunner

    async def stop(self) -> None:
        """Stop serving: every client is told at once (a close frame: it reconnects to the next
        server at once instead of noticing a silence), then the listener and the SFU stop."""
        self.coordinator.close()
        for session in list(self.coordinator.sessions.values()):
            session.drop()
        await self.runner.cleanup()
        await self.coordinator.sfu.close()


async def start_server(
    secret: str,
    host: str = "127.0.0.1",
    port: int = 8470,
    *,
    ring_timeout: float = 30.0,
    sfu: SfuBackend | None = None,
    limits: ServerLimits | None = None,
    ice_servers: list[p.IceServerInfo] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> RunningServer:
    """Start the coordinator on ``host:port`` (port 0 picks a free one); with ``ssl_context``
    it serves HTTPS and WSS (``mctui.tls``)."""
    limits = within_file_limit(limits or ServerLimits())
    coordinator = Coordinator(
        secret, ring_timeout=ring_timeout, sfu=sfu, limits=limits, ice_servers=ice_servers
    )
    limits = coordinator.limits
    runner = web.AppRunner(
        create_app(coordinator), handle_signals=False, access_log=None, shutdown_timeout=5.0,
        # aiohttp starts this timer when a connection opens, and again whenever it idles
        keepalive_timeout=limits.idle_connection_s,
    )  # fmt: skip
    server_log = logging.getLogger("aiohttp.server")
    if _CLIENT_FAULTS not in server_log.filters:
        server_log.addFilter(_CLIENT_FAULTS)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    # the runner's public addresses: (host, port) of each listening socket (port 0: the one given)
    actual_port = next((int(address[1]) for address in runner.addresses), port)
    scheme = "https" if ssl_context is not None else "http"
    url = f"{scheme}://{host}:{actual_port}"
    return RunningServer(url, host, actual_port, coordinator, runner)
