"""Hook: closing a peer connection leaves no aioice consent task behind.

When a connection closes while ICE is finishing, aioice's ``connect()`` can resume after
``close()`` and start its consent-freshness loop on a dead connection, where it runs forever
(about 4 tasks per quick hang-up were measured). Before closing, this connection's consent loop
is replaced, on this instance only, by one that returns at once; a loop already started is
cancelled after the close (``test_resources``: no task left).
"""

from __future__ import annotations

import asyncio

import aioice
from aiortc import RTCPeerConnection

from mctui.private_names import PrivateName
from mctui.rtc.hooks.ice_policy import ice_connections

PRIVATE_NAMES = (
    PrivateName(aioice.Connection, "query_consent", "consent"),
    PrivateName(aioice.Connection, "_query_consent_task", "consent", "instance"),
)


async def _no_consent_checks() -> None:
    """Stands in for aioice's consent loop on a connection that is closing."""


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """Close ``pc`` without leaking aioice's consent task."""
    connections = ice_connections(pc)
    for connection in connections:
        connection.query_consent = _no_consent_checks
    await pc.close()
    for connection in connections:
        task = connection._query_consent_task
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
