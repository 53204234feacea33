"""When to try reconnecting to the server: jittered exponential backoff, cut short when the path
comes back.

The backoff spreads a crowd of clients over time after a server restart (the first try comes
within 250 ms, later ones double up to a 5 s cap, each scaled by a random 50-100 %). Waiting out a
5 s step after a long outage would leave the user in silence for up to 5 s after the network
returned, so between tries the client also *probes*: a bare TCP connect to the server's port every
half second. A refused or unanswered probe costs the server nothing (no WebSocket, no hello);
the first one that connects ends the wait and the real attempt goes at once, and no real attempt
is made while the probes go unanswered. Probes are used only while the server is unreachable: a
server that answers but refuses (full, errors) gets the plain backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

PROBE_EVERY_S = 0.5


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (1-based)."""

    first_s: float = 0.25
    cap_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        draw = rng.random() if rng is not None else random.random()
        if attempt <= 1:
            return self.first_s * draw
        step = min(self.cap_s, self.first_s * 2.0 ** (attempt - 1))
        return step * (0.5 + 0.5 * draw)


def server_address(url: str) -> tuple[str, int]:
    """The host and TCP port behind an ``http(s)://`` or ``ws(s)://`` server URL."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    return parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80)


#: Why a probe failed: the port refused (nothing listens: a server down or restarting) or
#: nothing answered in time (a path that drops packets: a network gone, a firewall).
REFUSED = "connection refused"
NO_ANSWER = "no answer"


async def probe_port(host: str, port: int, within_s: float) -> str | None:
    """None if a TCP connection to ``host:port`` opens within ``within_s`` (closed at once),
    else why not: ``REFUSED``, ``NO_ANSWER``, or the system's word for another failure."""
    try:
        async with asyncio.timeout(within_s):
            _, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return REFUSED
    except TimeoutError:
        return NO_ANSWER
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def wait_before_retry(url: str, delay: float, *, probe: bool) -> str | None:
    """Sleep ``delay`` seconds. With ``probe``: return None as soon as the server's port answers
    a TCP connect, and why the last probe failed if none did (at least one probe is made, even
    with no delay).

    A real attempt on a path that does not answer is worse than waiting: its SYN is lost and
    TCP retries it after 1, 3, 7 s, so an attempt started in a blackhole connects seconds after
    the path came back. Probes time out in half a second and go again."""
    if not probe:
        await asyncio.sleep(delay)
        return None
    end = time.monotonic() + delay
    host, port = server_address(url)
    while True:
        started = time.monotonic()
        why = await probe_port(host, port, PROBE_EVERY_S)
        if why is None:
            return None
        if time.monotonic() >= end:
            return why
        spent = time.monotonic() - started
        await asyncio.sleep(max(0.0, min(PROBE_EVERY_S - spent, end - time.monotonic())))
