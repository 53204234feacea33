"""Hook: an aioice connection's gather step follows mctui's ``NetworkPolicy``.

aioice on its own offers every interface address of the machine except loopback, and asks
Google's STUN server when given none. A ``PolicyPeerConnection`` gives each of its aioice
connections (only) a gather step that offers the policy's addresses, and, while trickling,
hands the STUN step to a task that reports each server-reflexive candidate as it comes
(``test_networks``: the SFU answers with exactly its ``--host``; ``test_peer``: a client offers
exactly 127.0.0.1 on loopback; ``test_trickle``: the offer leaves before the STUN answer).
aiortc keeps the aioice connection private: transceiver -> DTLS -> ICE transport -> gatherer
-> ``_connection``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import aioice
import aioice.ice
import aioice.stun
from aiortc import RTCIceGatherer, RTCPeerConnection
from aiortc.rtcicetransport import candidate_from_aioice
from aiortc.sdp import candidate_to_sdp

from mctui.network import NetworkPolicy
from mctui.private_names import PrivateName

PRIVATE_NAMES = (
    PrivateName(RTCIceGatherer, "_connection", "ice_policy", "instance"),
    PrivateName(aioice.Connection, "gather_candidates", "ice_policy"),
    PrivateName(aioice.Connection, "get_component_candidates", "ice_policy"),
    PrivateName(aioice.Connection, "_local_candidates", "ice_policy", "instance"),
    PrivateName(aioice.Connection, "_local_candidates_start", "ice_policy", "instance"),
    PrivateName(aioice.Connection, "_local_candidates_end", "ice_policy", "instance"),
    PrivateName(aioice.Connection, "_components", "ice_policy", "instance"),
    PrivateName(aioice.Connection, "_protocols", "ice_policy", "instance"),
    PrivateName(aioice.ice, "get_host_addresses", "ice_policy"),
    PrivateName(aioice.ice, "server_reflexive_candidate", "ice_policy"),
)

#: How long a trickling connection waits for its STUN server's answer.
STUN_TIMEOUT_S = 5.0

_POLICIES: weakref.WeakKeyDictionary[Any, NetworkPolicy] = weakref.WeakKeyDictionary()


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections under ``pc``."""
    found: list[Any] = []
    for transceiver in pc.getTransceivers():
        ice = getattr(transceiver.sender.transport, "transport", None)
        connection = getattr(getattr(ice, "iceGatherer", None), "_connection", None)
        if connection is not None and connection not in found:
            found.append(connection)
    return found


def apply_policy(
    connection: Any,
    policy: NetworkPolicy,
    trickle: bool,
    trickled: asyncio.Queue[str | None],
    spawn: Callable[[Coroutine[Any, Any, None]], None],
) -> None:
    """Give this aioice connection (only) a gather step that offers ``policy``'s addresses;
    while trickling, the STUN step runs in a task (``spawn``) that reports to ``trickled``."""
    if _POLICIES.get(connection) is policy:
        return

    async def gather_candidates() -> None:
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        addresses = list(policy.host_addresses) or aioice.ice.get_host_addresses(
            use_ipv4=True, use_ipv6=False
        )
        stun_server = connection.stun_server
        if trickle:
            connection.stun_server = None  # the STUN step runs after the description
        try:
            found = await asyncio.gather(
                *(
                    connection.get_component_candidates(component=component, addresses=addresses)
                    for component in connection._components
                )
            )
        finally:
            connection.stun_server = stun_server
        for candidates in found:
            connection._local_candidates += candidates
        connection._local_candidates_end = True
        if trickle:
            spawn(_trickle_reflexive(connection, stun_server, trickled))

    connection.gather_candidates = gather_candidates
    _POLICIES[connection] = policy


async def _trickle_reflexive(
    connection: Any, stun_server: tuple[str, int] | None, out: asyncio.Queue[str | None]
) -> None:
    """Ask the STUN server for each host candidate's public address; report each, then None."""
    try:
        if stun_server is not None:
            hosts = [
                protocol
                for protocol in list(connection._protocols)
                if getattr(protocol, "local_candidate", None) is not None
                and protocol.local_candidate.type == "host"
                and ":" not in protocol.local_candidate.host
            ]
            for protocol in hosts:
                try:
                    candidate, _ = await asyncio.wait_for(
                        aioice.ice.server_reflexive_candidate(protocol, stun_server),
                        STUN_TIMEOUT_S,
                    )
                except (TimeoutError, OSError, aioice.stun.TransactionError):
                    continue
                connection._local_candidates.append(candidate)
                out.put_nowait("candidate:" + candidate_to_sdp(candidate_from_aioice(candidate)))
    finally:
        out.put_nowait(None)
