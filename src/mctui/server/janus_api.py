"""A client of Janus's JSON API over WebSocket (subprotocol ``janus-protocol``): one session, its
plugin handles, requests with their transactions, and the events Janus pushes.

Janus answers a request in one of three ways: ``success`` (synchronous plugin requests such as
VideoRoom's ``create``), ``ack`` followed later by an ``event`` with the same transaction
(asynchronous ones such as ``join``, ``publish``, ``start``), or ``error``. Events without a
transaction (a publisher joined the room, someone is talking, ``webrtcup``, ``hangup``) go to the
handle's listener. The session is kept alive every 25 s (Janus drops it after 60 s of silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from mctui.errors import MediaError

log = logging.getLogger(__name__)

KEEPALIVE_S = 25.0
REQUEST_TIMEOUT_S = 10.0
Event = dict[str, Any]


class JanusError(MediaError):
    """Janus refused a request, or could not be reached."""


class JanusSession:
    """One WebSocket and one Janus session on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_id: int | None = None
        self.closed = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Event]] = {}
        #: Transactions whose whole answer is an ``ack``.
        self._ack_answers: set[str] = set()
        self._listeners: dict[int, Callable[[Event], None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                self.url, protocols=("janus-protocol",), heartbeat=None, max_msg_size=0
            )
        except (aiohttp.ClientError, OSError) as exc:
            await self._http.close()
            raise JanusError(f"cannot reach Janus at {self.url} ({exc})") from exc
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._read(), name="janus-read"))
        try:
            created = await self._send({"janus": "create"})
        except BaseException:  # a Janus that went away mid-start: leave nothing open
            await self.close()
            raise
        self.session_id = int(created["data"]["id"])
        self._tasks.append(loop.create_task(self._keep_alive(), name="janus-keepalive"))

    async def attach(self, listener: Callable[[Event], None]) -> int:
        """A new VideoRoom handle; ``listener`` gets its events that answer no request."""
        reply = await self._send({"janus": "attach", "plugin": "janus.plugin.videoroom"})
        handle = int(reply["data"]["id"])
        self._listeners[handle] = listener
        return handle

    async def detach(self, handle: int) -> None:
        self._listeners.pop(handle, None)
        with contextlib.suppress(JanusError):
            await self._send({"janus": "detach", "handle_id": handle})

    async def request(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A VideoRoom request: its plugin data and the JSEP that came with it, if any."""
        message: dict[str, Any] = {"janus": "message", "handle_id": handle, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        reply = await self._send(message)
        data = reply.get("plugindata", {}).get("data", {})
        if data.get("error_code"):
            raise JanusError(f"Janus: {data.get('error', 'error')} ({data['error_code']})")
        return data, reply.get("jsep")

    async def trickle(self, handle: int, candidate: dict[str, Any]) -> None:
        await self._send(
            {"janus": "trickle", "handle_id": handle, "candidate": candidate}, ack_answers=True
        )

    async def _send(self, message: dict[str, Any], *, ack_answers: bool = False) -> Event:
        """Send ``message``; its answer. ``ack_answers``: Janus's ``ack`` is all it will say
        (``trickle``, ``keepalive``); otherwise an ``ack`` means an event follows."""
        if self._ws is None or self._ws.closed:
            raise JanusError(f"the connection to Janus at {self.url} is closed")
        transaction = f"m{next(self._ids)}"
        message = {**message, "transaction": transaction}
        if self.session_id is not None:
            message["session_id"] = self.session_id
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        if ack_answers:
            self._ack_answers.add(transaction)
        try:
            await self._ws.send_str(json.dumps(message))
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except TimeoutError as exc:
            raise JanusError(f"Janus did not answer {message['janus']!r} in time") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise JanusError(f"lost the connection to Janus at {self.url} ({exc})") from exc
        finally:
            self._waiting.pop(transaction, None)
            self._ack_answers.discard(transaction)
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusError(f"Janus: {error.get('reason', 'error')} ({error.get('code')})")
        return reply

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for msg in self._ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._on_message(json.loads(msg.data))
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # pragma: no cover
            log.warning("Janus connection %s failed: %s", self.url, exc)
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(JanusError(f"lost the connection to Janus at {self.url}"))
            self.closed.set()

    def _on_message(self, message: Event) -> None:
        kind = message.get("janus")
        transaction = str(message.get("transaction", ""))
        if kind == "ack" and transaction not in self._ack_answers:
            return  # the answer comes later as an event with this transaction
        future = self._waiting.get(transaction)
        if (
            future is not None
            and kind in ("ack", "success", "error", "event")
            and not future.done()
        ):
            future.set_result(message)
            return
        listener = self._listeners.get(int(message.get("sender", 0) or 0))
        if listener is not None:
            try:
                listener(message)
            except Exception:  # one handle's trouble must not stop the reader
                log.exception("handling a Janus event failed")

    async def _keep_alive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(KEEPALIVE_S)
            with contextlib.suppress(JanusError):
                await self._send({"janus": "keepalive"}, ack_answers=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._ws is not None and not self._ws.closed and self.session_id is not None:
            bye = {"janus": "destroy", "session_id": self.session_id, "transaction": "bye"}
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
                await self._ws.send_str(json.dumps(bye))
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.close()
        self.closed.set()
