"""Creating peer connections that obey the network rule (DESIGN.md section 7).

``iceServers=[]`` so no public STUN server is ever asked, and in loopback mode (the default) host
candidates are 127.0.0.1 only: aioice leaves loopback out of its host candidates and would otherwise
offer every interface address of the machine. Every connection mctui makes is registered, so tests
can prove none is left open.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from typing import cast

import aioice.ice
import aiortc.rtp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtp import RtpPacket

_original_get_host_addresses: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_loopback_only = True
_OPEN: weakref.WeakSet[RTCPeerConnection] = weakref.WeakSet()


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _loopback_only:
        return ["127.0.0.1"] if use_ipv4 else []
    return _original_get_host_addresses(use_ipv4, use_ipv6)


aioice.ice.get_host_addresses = _host_addresses


def audio_level_dbov(frame: av.AudioFrame) -> int:
    """RFC 6465 audio level of an s16 frame (the RMS in -dBov, whole dB), in one numpy pass.

    aiortc's own version unpacks every sample in a Python loop (~0.15 ms per 20 ms frame on the
    event loop, for every frame every call sends). It also divides a stereo frame's energy by
    the samples of one channel, reading 3 dB high; mctui sends L = R stereo, so this divides by
    every sample. For mono frames the two give the same integer.
    """
    count = frame.samples * len(frame.layout.channels)
    pcm = np.frombuffer(cast(bytes, frame.planes[0]), dtype=np.int16, count=count)
    energy = float(np.dot(pcm.astype(np.float64), pcm.astype(np.float64)))
    rms = math.sqrt(energy / (count * 32767.0 * 32767.0))
    if rms <= 0:
        return -127
    return round(min(max(20 * math.log10(rms), -127), 0))


#: aiortc's pure-Python version, kept for the test that proves ours matches it on mono frames.
ORIGINAL_AUDIO_LEVEL_DBOV: Callable[[av.AudioFrame], int] = aiortc.rtp.compute_audio_level_dbov
aiortc.rtp.compute_audio_level_dbov = audio_level_dbov


def set_loopback_only(enabled: bool) -> None:
    """Loopback mode on (127.0.0.1 candidates only) or off (the machine's addresses, for Janus
    inside a test network namespace)."""
    global _loopback_only
    _loopback_only = enabled


def new_peer_connection() -> RTCPeerConnection:
    """A peer connection with no ICE servers, registered until it is closed."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    _OPEN.add(pc)
    return pc


def open_peer_connections() -> list[RTCPeerConnection]:
    """Connections mctui created that are not closed yet (tests assert this ends empty)."""
    return [pc for pc in list(_OPEN) if pc.connectionState != "closed"]


#: What a receiver hands on for each RTP packet: the transceiver it came in on, and the packet.
PacketHandler = Callable[[RTCRtpTransceiver, RtpPacket], None]


def take_audio_packets(pc: RTCPeerConnection, on_packet: PacketHandler) -> None:
    """Hand every RTP packet that an audio receiver of ``pc`` gets to ``on_packet``, instead of
    aiortc's jitter buffer and decoder.

    aiortc's audio path waits at a missing packet until 16 more arrive and has no loss
    concealment; mctui's own playout (``rtc.playout``) and the SFU's forwarding take the packets
    themselves. aiortc has no public hook for received packets, so the receiver's packet handler
    is replaced on this instance only (RTCP keeps working). Call it after each
    setRemoteDescription (new transceivers); a receiver is taken once.
    """
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or getattr(receiver, "_mctui_taken", False):
            continue

        async def take(
            packet: RtpPacket, arrival_time_ms: int, transceiver: RTCRtpTransceiver = transceiver
        ) -> None:
            on_packet(transceiver, packet)

        receiver._handle_rtp_packet = take  # type: ignore[method-assign]
        setattr(receiver, "_mctui_taken", True)  # noqa: B010


def packet_audio_level(packet: RtpPacket) -> int | None:
    """The RFC 6464 level in a packet's header (0 = loudest, 127 = silence), if it has one."""
    level = getattr(packet.extensions, "audio_level", None)
    return int(level[1]) if level is not None else None


async def _no_consent_checks() -> None:
    """Stands in for aioice's consent loop on a connection that is closing."""


def _ice_connections(pc: RTCPeerConnection) -> list[object]:
    """The aioice connections under ``pc`` (aiortc keeps them private: transceiver -> DTLS ->
    ICE transport -> gatherer -> ``_connection``)."""
    found: list[object] = []
    for transceiver in pc.getTransceivers():
        ice = getattr(transceiver.sender.transport, "transport", None)
        connection = getattr(getattr(ice, "iceGatherer", None), "_connection", None)
        if connection is not None and connection not in found:
            found.append(connection)
    return found


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """Close ``pc`` without leaking aioice's consent task.

    When a connection closes while ICE is finishing, aioice's ``connect()`` can resume after
    ``close()`` and start its consent-freshness loop on a dead connection, where it runs forever
    (about 4 tasks per quick hang-up were measured). Before closing, this connection's consent
    loop is replaced, on this instance only, by one that returns at once; a loop already started
    is cancelled after the close.
    """
    connections = _ice_connections(pc)
    for connection in connections:
        setattr(connection, "query_consent", _no_consent_checks)  # noqa: B010 - this instance
    await pc.close()
    for connection in connections:
        task = getattr(connection, "_query_consent_task", None)
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
