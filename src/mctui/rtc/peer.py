"""Peer connections with a per-connection network policy.

Each connection offers the host addresses its ``NetworkPolicy`` names and asks only the ICE
servers the policy lists; where both sides offer RED its transceivers use it. This is scoped to
mctui's own connections: nothing process-wide changes. Every connection mctui makes is
registered, so tests can prove none is left open. What this needs of aiortc's and aioice's
private parts is in ``rtc/hooks/`` (one hook per file, each checked at import); this module
re-exports the hooks' public functions for the rest of mctui.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import RtpPacket
from aiortc.sdp import candidate_from_sdp

from mctui.network import NetworkPolicy
from mctui.rtc import red as rfc2198
from mctui.rtc.hooks.consent import close_peer_connection
from mctui.rtc.hooks.dtls_role import answer_as_dtls_server
from mctui.rtc.hooks.encode_step import (
    ORIGINAL_AUDIO_LEVEL_DBOV,
    audio_level_dbov,
    own_encode_step,
)
from mctui.rtc.hooks.ice_policy import STUN_TIMEOUT_S, apply_policy, ice_connections
from mctui.rtc.hooks.receive_tap import PacketHandler, RepairedPacket, take_audio_packets
from mctui.rtc.hooks.red_codecs import use_red
from mctui.rtc.offer_rules import check_candidate
from mctui.rtc.red import RedFormat

__all__ = [
    "ORIGINAL_AUDIO_LEVEL_DBOV",
    "STUN_TIMEOUT_S",
    "PacketHandler",
    "PolicyPeerConnection",
    "RepairedPacket",
    "add_remote_candidate",
    "announce_sdp",
    "answer_as_dtls_server",
    "audio_level_dbov",
    "close_peer_connection",
    "new_peer_connection",
    "open_peer_connections",
    "packet_audio_level",
    "take_audio_packets",
    "wait_connected",
]

_OPEN: weakref.WeakSet[RTCPeerConnection] = weakref.WeakSet()


def _rtc_ice_servers(policy: NetworkPolicy) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=server.url, username=server.username, credential=server.credential)
        for server in policy.ice_servers
    ]


class PolicyPeerConnection(RTCPeerConnection):  # type: ignore[misc]
    """An ``RTCPeerConnection`` whose candidates follow its ``NetworkPolicy``.

    With ``trickle`` (RFC 8838), its local description is ready as soon as the host (and TURN)
    candidates are: the server-reflexive candidates that a STUN server gives follow in
    ``trickled`` (each as an SDP ``candidate:`` value, then None for the end), so an offer is
    not held up by a STUN round trip or timeout. aioice cannot add a relay candidate to a
    connection that has started checking, so TURN is always gathered before the description.
    """

    def __init__(self, policy: NetworkPolicy, trickle: bool = False, red: bool = False) -> None:
        super().__init__(RTCConfiguration(iceServers=_rtc_ice_servers(policy)))
        self.policy = policy
        self.trickle = trickle
        #: Offer RED, and accept it where the other side offers it (``rtc.red``).
        self.red = red
        self._offered_red: dict[str, RedFormat] = {}
        self.trickled: asyncio.Queue[str | None] = asyncio.Queue()
        #: Set once a task sends ``trickled`` to the other side (one per connection).
        self.trickle_sending = False
        self._trickle_tasks: set[asyncio.Task[None]] = set()

    async def setLocalDescription(
        self, sessionDescription: RTCSessionDescription | None = None
    ) -> None:
        for connection in ice_connections(self):
            apply_policy(connection, self.policy, self.trickle, self.trickled, self._spawn)
        await super().setLocalDescription(sessionDescription)

    async def setRemoteDescription(self, sessionDescription: RTCSessionDescription) -> None:
        """As aiortc's, and where both sides offer RED, its transceivers use it. They are marked
        before (an answer starts the offerer's senders inside this call) and after (an offer
        creates the answerer's transceivers)."""
        formats = rfc2198.red_formats(sessionDescription.sdp) if self.red else {}
        if sessionDescription.type == "offer":
            self._offered_red = formats
        self._mark_red(formats)
        await super().setRemoteDescription(sessionDescription)
        self._mark_red(formats)

    def _mark_red(self, formats: dict[str, RedFormat]) -> None:
        for transceiver in self.getTransceivers():
            fmt = formats.get(transceiver.mid or "")
            if transceiver.kind == "audio" and fmt is not None:
                use_red(transceiver, fmt)

    def addTransceiver(self, trackOrKind: Any, direction: str = "sendrecv") -> RTCRtpTransceiver:
        transceiver = super().addTransceiver(trackOrKind, direction=direction)
        if transceiver.kind == "audio":
            own_encode_step(transceiver.sender)
        return transceiver

    def local_sdp(self) -> str:
        """The local description to send: while trickling, without ``a=end-of-candidates``
        (more candidates are coming)."""
        sdp = str(self.localDescription.sdp)
        if self.red and self.localDescription.type == "offer":
            sdp = rfc2198.offer_red(sdp)
        elif self.red and self._offered_red:
            sdp = rfc2198.answer_red(sdp, self._offered_red)
        if not self.trickle:
            return sdp
        return "\r\n".join(line for line in sdp.split("\r\n") if line != "a=end-of-candidates")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="rtc-trickle")
        self._trickle_tasks.add(task)
        task.add_done_callback(self._trickle_tasks.discard)

    async def close(self) -> None:
        for task in list(self._trickle_tasks):
            task.cancel()
        await super().close()


async def add_remote_candidate(
    pc: RTCPeerConnection, candidate: str | None, sdp_mid: str | None
) -> None:
    """A trickled remote candidate (``candidate:...``), or None for the end of them.

    A malformed one raises ``ValueError``."""
    if candidate is None:
        await pc.addIceCandidate(None)
        return
    value = candidate.removeprefix("a=").removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(value)
    except (ValueError, IndexError, AssertionError, KeyError, TypeError) as exc:
        # aiortc's parser asserts on a short line
        raise ValueError(f"not an ICE candidate: {candidate[:80]!r}") from exc
    check_candidate(parsed.ip, parsed.port)
    mids = [t.mid for t in pc.getTransceivers() if t.mid is not None]
    parsed.sdpMid = sdp_mid if sdp_mid in mids else (mids[0] if mids else None)
    if parsed.sdpMid is None:
        raise ValueError("no media section to add the candidate to yet")
    await pc.addIceCandidate(parsed)


def new_peer_connection(
    policy: NetworkPolicy | None = None, *, trickle: bool = False, red: bool = False
) -> PolicyPeerConnection:
    """A peer connection following ``policy`` (default: 127.0.0.1 only, no ICE servers),
    registered until it is closed; with ``red`` it offers and accepts RED (``rtc.red``)."""
    pc = PolicyPeerConnection(policy or NetworkPolicy(), trickle, red)
    _OPEN.add(pc)
    return pc


def announce_sdp(sdp: str, announce: str | None) -> str:
    """``sdp`` with its host candidates' and connection line's address replaced by
    ``announce`` (the public side of a 1:1 NAT), as Janus's ``nat_1_1_mapping`` does. Checks
    still come and go through the real socket; only what the other side is told changes."""
    if not announce:
        return sdp
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and " typ host" in line:
            parts = line.split(" ")
            parts[4] = announce
            line = " ".join(parts)
        elif line.startswith("c=IN IP4 "):
            line = f"c=IN IP4 {announce}"
        lines.append(line)
    return "\r\n".join(lines)


#: Connection states a connection does not leave by itself.
SETTLED_STATES = ("connected", "failed", "closed")


async def wait_connected(pc: RTCPeerConnection, timeout_s: float) -> str:
    """Wait until ``pc`` is connected, failed or closed, or ``timeout_s`` passed; returns its
    connection state then."""
    if pc.connectionState in SETTLED_STATES:
        return str(pc.connectionState)
    settled = asyncio.Event()

    def on_change() -> None:
        if pc.connectionState in SETTLED_STATES:
            settled.set()

    pc.on("connectionstatechange", on_change)
    try:
        await asyncio.wait_for(settled.wait(), timeout_s)
    except TimeoutError:
        pass
    finally:
        pc.remove_listener("connectionstatechange", on_change)
    return str(pc.connectionState)


def open_peer_connections() -> list[RTCPeerConnection]:
    """Connections mctui created that are not closed yet (tests assert this ends empty)."""
    return [pc for pc in list(_OPEN) if pc.connectionState != "closed"]


def packet_audio_level(packet: RtpPacket) -> int | None:
    """The RFC 6464 level in a packet's header (0 = loudest, 127 = silence), if it has one."""
    level = getattr(packet.extensions, "audio_level", None)
    return int(level[1]) if level is not None else None
