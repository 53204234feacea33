"""The client's link to the coordinator: requests with replies, and pushed events.

``SignalingChannel`` does the bookkeeping (request ids, futures, typed errors from error replies,
event dispatch); a subclass only moves text frames. ``WebSocketSignaling`` is the real one (aiohttp,
one WebSocket per connected user).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiohttp
from pydantic import ValidationError

from mctui import protocol as p
from mctui.errors import (
    BadRequestError,
    LimitReachedError,
    MctuiError,
    NotConnectedError,
    RequestTimeoutError,
    ServerUnreachableError,
    error_from_code,
)
from mctui.names import websocket_url
from mctui.protocol import RequestModel, ResultT
from mctui.tls import client_context

log = logging.getLogger(__name__)

EventHandler = Callable[[p.Event], None]


class SignalingChannel(ABC):
    """Request/reply and events over some text transport."""

    def __init__(self, request_timeout: float = 10.0) -> None:
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}  # the raw result
        self._event_handler: EventHandler | None = None
        self._closed_handler: Callable[[], None] | None = None
        self.request_timeout = request_timeout
        self.closed = False
        self._close_notified = False
        #: Why the channel closed by itself (None while open, or closed by us).
        self.close_reason: str | None = None
        #: Seconds between keepalive pings once open (0: none); a ping unanswered for as long
        #: again closes the channel as lost.
        self.keepalive_s = 0.0
        self._keepalive: asyncio.Task[None] | None = None

    def set_event_handler(self, handler: EventHandler) -> None:
        self._event_handler = handler

    def set_closed_handler(self, handler: Callable[[], None]) -> None:
        self._closed_handler = handler

    async def request(self, kind: type[RequestModel[ResultT]], **fields: Any) -> ResultT:
        """Send one request of ``kind``; its reply's result parsed, once and here, into the
        model ``kind`` names (or a typed error: the server's, or ``BadRequestError`` for a
        reply we cannot read)."""
        if self.closed:
            raise NotConnectedError("not connected to the server")
        request_id = next(self._ids)
        message = kind(id=request_id, **fields)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send_text(message.model_dump_json())
            result = await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError as exc:
            raise RequestTimeoutError(
                f"the server did not answer {message.model_fields['type'].default!r} in time"
            ) from exc
        finally:
            self._pending.pop(request_id, None)
        try:
            return cast(ResultT, kind.result_type().model_validate(result))
        except ValidationError as exc:
            raise BadRequestError(
                f"the server's reply to {message.model_fields['type'].default!r} is not "
                f"understood ({exc.error_count()} problems)"
            ) from exc

    def _on_text(self, text: str) -> None:
        if self._close_notified:
            return  # a connection given up for lost may still deliver late frames: not ours
        try:
            message = p.SERVER_MESSAGE_ADAPTER.validate_json(text)
        except ValidationError:
            log.warning("ignoring a server message this client does not understand")
            return
        if isinstance(message, p.Reply):
            future = self._pending.get(message.id)
            if future is not None and not future.done():
                future.set_result(message.result)
        elif isinstance(message, p.ErrorReply):
            error = error_from_code(message.code, message.message)
            future = self._pending.get(message.id) if message.id is not None else None
            if future is not None and not future.done():
                future.set_exception(error)
            else:
                log.warning("server error: %s", message.message)
        elif self._event_handler is not None:
            self._event_handler(message)

    def _on_closed(self, reason: str) -> None:
        if self._close_notified:
            return
        self._close_notified = True
        self.closed = True
        self.close_reason = reason
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotConnectedError(f"connection to the server lost ({reason})"))
        if self._closed_handler is not None:
            self._closed_handler()

    @abstractmethod
    async def _send_text(self, text: str) -> None: ...

    @abstractmethod
    async def open(self, token: str, resume: str | None = None) -> p.HelloResult:
        """Connect and authenticate with ``token`` (resuming the calls of the connection that
        had the ``resume`` id, if the server still keeps them); says who the server knows us
        as and whether it resumed."""

    @abstractmethod
    async def close(self) -> None: ...

    async def _hello(self, token: str, resume: str | None) -> p.HelloResult:
        result = await self.request(
            p.HelloRequest, version=p.PROTOCOL_VERSION, token=token, resume=resume
        )
        if self.keepalive_s > 0:
            self._keepalive = asyncio.get_running_loop().create_task(
                self._keep_alive(), name="signaling-keepalive"
            )
        return result

    async def _keep_alive(self) -> None:
        """Ping every ``keepalive_s``; a ping with no answer in as long again means the path
        is gone even if TCP has not noticed (it can take minutes): the channel closes as lost,
        without waiting for the socket, so the client can reconnect at once."""
        interval = self.keepalive_s
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    await self.request(p.PingRequest)
            except (TimeoutError, RequestTimeoutError):
                self._on_closed(f"no answer from the server for {interval:g} s")
                return
            except MctuiError:
                return  # closed meanwhile: whoever closed it reported why


class WebSocketSignaling(SignalingChannel):
    """The real signalling link: one aiohttp WebSocket to the coordinator's ``/ws``."""

    def __init__(
        self, base_url: str, request_timeout: float = 10.0, *, ca_file: str | None = None
    ) -> None:
        super().__init__(request_timeout)
        self.url = websocket_url(base_url)
        self._ca_file = ca_file
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, token: str, resume: str | None = None) -> p.HelloResult:
        secure = self.url.startswith("wss://")
        # wss: the system's trust store, and a private CA if given (a plain ws:// needs none)
        tls = client_context(Path(self._ca_file) if self._ca_file else None) if secure else None
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                # liveness is the keepalive's job: aiohttp's heartbeat would close the socket
                # by itself, and that close could reach the server after our resume
                self.url,
                heartbeat=None,
                max_msg_size=4 * p.MAX_MESSAGE_BYTES,
                # a close handshake on a dead path must not hold anything up for long
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0),
                ssl=tls if tls is not None else True,
            )
        except asyncio.CancelledError:
            await self._http.close()  # given up on (a reconnect stopped): leave nothing open
            self._http = None
            raise
        except (aiohttp.ClientError, OSError) as exc:
            await self._http.close()
            self._http = None
            self.closed = True
            if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status == 503:
                raise LimitReachedError(
                    f"the server at {self.url} is full (too many connections): try later"
                ) from exc
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                raise ServerUnreachableError(
                    f"the server at {self.url} has a certificate this client does not trust "
                    f"({exc.certificate_error}): give its CA with --ca-file"
                ) from exc
            raise ServerUnreachableError(f"cannot reach the server at {self.url} ({exc})") from exc
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="signaling-read")
        try:
            return await self._hello(token, resume)
        except BaseException:  # refused, timed out or cancelled: close what was opened
            await asyncio.shield(self.close())
            raise

    async def _read(self) -> None:
        """Read until the connection ends, and say how: a server that closed it said so with
        a close frame (a restart, a stop); without one the connection was lost (the server
        process killed, the network gone)."""
        assert self._ws is not None
        reason = "connection lost"
        try:
            while True:
                msg = await self._ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
                    reason = "closed by the server"
                    break
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    reason = f"connection lost ({self._ws.exception()})"
                    break
                elif msg.type is aiohttp.WSMsgType.CLOSED:
                    break
        except (aiohttp.ClientError, OSError) as exc:  # pragma: no cover - network failure
            reason = f"connection lost ({exc})"
        finally:
            self._on_closed(reason)

    async def _send_text(self, text: str) -> None:
        if self._ws is None or self._ws.closed:
            raise NotConnectedError("not connected to the server")
        try:
            await self._ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise NotConnectedError(f"connection to the server lost ({exc})") from exc

    async def close(self) -> None:
        self.closed = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._http is not None:
            await self._http.close()
            self._http = None
