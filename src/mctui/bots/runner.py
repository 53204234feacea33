"""``mctui bot``: one bot in one room until a signal, or until its connection is lost for good."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mctui.bots.bot import Bot
from mctui.bots.signals import speech_like, tone
from mctui.engine import CallType, User
from mctui.errors import MctuiError
from mctui.network import IceServer
from mctui.shutdown import stop_on_signals


@dataclass(frozen=True)
class BotSpec:
    server: str
    user_id: str
    token: str
    call_type: CallType
    room: str
    hz: float | None
    speech: bool
    ice_servers: tuple[IceServer, ...]
    reconnect_timeout_s: float
    ca_file: str | None = None


async def run_bot(spec: BotSpec, on_joined: Callable[[], None]) -> str | None:
    """Join, then run until SIGINT/SIGTERM; returns why it stopped early (a server that stayed
    away longer than the reconnect timeout, or could not be joined), else None. In between the
    bot reconnects and rejoins by itself, like any client."""
    signal = speech_like(seed=hash(spec.user_id) % 1000) if spec.speech else tone(spec.hz or 440)
    bot = Bot(
        spec.server, User(spec.user_id), spec.token, signal, room=spec.room,
        call_type=spec.call_type, ice_servers=spec.ice_servers,
        reconnect_timeout_s=spec.reconnect_timeout_s, ca_file=spec.ca_file,
    )  # fmt: skip
    try:
        await bot.start(retry=True)
    except MctuiError as exc:
        await bot.stop()
        return str(exc)
    stop = stop_on_signals()  # before saying so: a SIGTERM right after the line stops cleanly
    on_joined()
    client = bot.client
    unwatch = client.state.observe("connection").listen(
        lambda _: stop.set() if client.connection_error is not None else None
    )
    try:
        await stop.wait()
    finally:
        unwatch()
        await bot.stop()
    return client.connection_error.message if client.connection_error is not None else None
