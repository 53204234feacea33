"""A STUN server on 127.0.0.1 for tests and benchmarks: answers binding requests with the
sender's address (RFC 5389), after a delay that stands in for a distant server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aioice import stun


@dataclass
class StunResponder(asyncio.DatagramProtocol):
    delay_s: float = 0.0
    requests: int = 0
    transport: Any = None
    _pending: set[asyncio.TimerHandle] = field(default_factory=set)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_method != stun.Method.BINDING:
            return
        self.requests += 1
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        loop = asyncio.get_running_loop()
        self._pending.add(loop.call_later(self.delay_s, self._send, bytes(response), addr))

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)


async def start_stun(delay_s: float = 0.0) -> tuple[StunResponder, int]:
    """A running responder and its UDP port on 127.0.0.1 (close ``responder.transport``)."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: StunResponder(delay_s), local_addr=("127.0.0.1", 0)
    )
    return protocol, transport.get_extra_info("sockname")[1]
