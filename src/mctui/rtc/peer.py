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
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer

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


def tune_audio_receivers(pc: RTCPeerConnection) -> None:
    """Shrink aiortc's audio jitter buffer look-ahead on every receiver of ``pc``.

    aiortc holds 4 frames (80 ms) before it hands the first one to the decoder; through an SFU
    that is paid twice. On loopback there is no jitter to absorb, so one frame of look-ahead (the
    minimum: a frame is complete when the next one starts) is enough; elsewhere two. Measured
    mouth-to-ear: 177 ms -> about 60 ms. Call it after each setRemoteDescription (new
    transceivers) and before media flows.
    """
    prefetch = 1 if _loopback_only else 2
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or getattr(receiver, "_mctui_tuned", False):
            continue
        setattr(  # noqa: B010 - aiortc has no public knob for it
            receiver, "_RTCRtpReceiver__jitter_buffer", JitterBuffer(16, prefetch=prefetch)
        )
        setattr(receiver, "_mctui_tuned", True)  # noqa: B010


def observe_audio_levels(pc: RTCPeerConnection, on_level: Callable[[int], None]) -> None:
    """Call ``on_level(dbov)`` with the RFC 6464 audio level of every RTP packet that any audio
    receiver of ``pc`` gets (0 = loudest, 127 = silence), before aiortc handles the packet.

    aiortc parses the ``ssrc-audio-level`` header extension (negotiated by default) but has no
    public hook for it, so the receiver's packet handler is wrapped on this instance only. Call
    after each setRemoteDescription; a receiver is wrapped once.
    """
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or getattr(receiver, "_mctui_levels", False):
            continue
        handle = receiver._handle_rtp_packet

        async def with_level(packet: object, arrival_time_ms: int, handle: object = handle) -> None:
            level = getattr(getattr(packet, "extensions", None), "audio_level", None)
            if level is not None:
                on_level(int(level[1]))
            await handle(packet, arrival_time_ms)  # type: ignore[operator]

        receiver._handle_rtp_packet = with_level  # type: ignore[method-assign]
        setattr(receiver, "_mctui_levels", True)  # noqa: B010


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
