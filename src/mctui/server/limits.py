"""What one server accepts, so that abuse gets a typed refusal instead of eating the machine.

Each limit is configurable (``[server]`` in the config file, which is this very model, or
``ServerLimits`` in code) and is reported with a typed error a person can read:
``limit_reached``, ``rate_limited``, ``too_large``, ``unauthorized`` (no hello in time).
Light on purpose (pydantic only): the config file imports it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt, field_validator


class ServerLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Seconds a new connection has to send a valid ``hello`` before it is closed.
    auth_timeout_s: PositiveFloat = 5.0
    #: HTTPS/WSS: the certificate (PEM, with its chain) and its key (``mctui serve --tls-cert
    #: --tls-key`` say the same); without them the server speaks plain HTTP.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Where guests reach this server (``https://voice.example.org``, behind a reverse proxy
    #: or a NAT): invite links are made with it. None: the URL each client connected to.
    public_url: str | None = None
    #: Reverse proxies (addresses or networks, ``10.0.0.0/8``) whose ``X-Forwarded-Proto`` and
    #: ``X-Forwarded-Host`` say what origin the browser saw (TLS ending at the proxy); anyone
    #: else's are ignored.
    trusted_proxies: tuple[str, ...] = ()

    #: Origins (``https://host:port``) whose pages may open the WebSocket besides the server's
    #: own; clients that are not browsers send no ``Origin`` and are always let in.
    allowed_origins: tuple[str, ...] = ()
    #: Seconds a TCP connection may stay open without an HTTP request in progress (one that
    #: never sends a request, or an idle keep-alive after a page load): then it is closed, so
    #: idle sockets cannot use up the process's file descriptors.
    idle_connection_s: PositiveFloat = 5.0
    #: Connections at once, all users together (kept well below the process's file limit).
    max_connections: PositiveInt = 2000
    #: Connections at once for one user (several devices, a TUI and a bot ...).
    max_connections_per_user: PositiveInt = 16
    #: Messages per second a connection may send (sustained), and the burst above it.
    messages_per_second: PositiveFloat = 100.0
    message_burst: PositiveInt = 500
    #: Calls one user may have created that have not ended.
    max_calls_per_user: PositiveInt = 200
    #: People in one call at once.
    max_participants_per_call: PositiveInt = 100
    #: Members a call may be given by ``get_or_create`` and ``ring`` (joining always makes the
    #: joiner a member). Join replies carry a count of members, never the list.
    max_members_per_call: PositiveInt = 1000
    #: The largest frame the server reads (at most the protocol's 64 KiB) and SDP it accepts.
    #: A subscriber's SDP grows by about 500 bytes per participant heard (one m-line each):
    #: 60 000 bytes is a room of about 100 (20 000 stopped Janus rooms near 40).
    max_message_bytes: PositiveInt = 64 * 1024
    max_sdp_bytes: PositiveInt = 60_000
    #: The longest a token may still be valid: longer ones are refused, whoever signed them.
    max_token_lifetime_s: PositiveInt = 24 * 3600
    #: Seconds a participant whose connection was lost (no answer to the heartbeat) keeps their
    #: place: a reconnect within it resumes them, after it the others see them leave (timeout).
    reconnect_grace_s: PositiveFloat = 15.0
    #: Seconds of silence after which the server pings a connection; one more half of it
    #: without an answer and the connection counts as lost (a frozen or vanished client).
    heartbeat_s: PositiveFloat = 5.0

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return proxy_networks(value)


def proxy_networks(items: Iterable[str]) -> tuple[str, ...]:
    """Each an address or a network, as a network (``ValueError`` names the bad one)."""
    return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``take()`` says if one was left."""

    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self._clock = clock
        self._last: float = self._now()

    def _now(self) -> float:
        value: float = self._clock()  # type: ignore[operator]
        return value

    def take(self) -> bool:
        now = self._now()
        self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
