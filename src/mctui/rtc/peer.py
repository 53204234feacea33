"""Peer connections with a per-connection network policy, and every touch of aiortc's and
aioice's private parts in one place.

Each connection offers the host addresses its ``NetworkPolicy`` names (aioice on its own offers
every interface address of the machine except loopback, and asks Google's STUN server when given
no ICE servers) and asks only the ICE servers the policy lists. This is scoped to mctui's own
connections: ``PolicyPeerConnection`` gives each of its aioice connections a gather step that uses
the policy's addresses, just before aiortc gathers; nothing process-wide changes. Every connection
mctui makes is registered, so tests can prove none is left open.

The private attributes used here, each with a test of its effect rather than a read-back: the
gatherer's aioice ``Connection`` and its candidate lists (the SFU answers with exactly its
``--host`` address, a client offers exactly 127.0.0.1 on loopback: ``test_networks``,
``test_peer``; the offer leaves before the STUN answer: ``test_trickle``), the receiver's
packet handler (aiortc's own track never fills: ``test_peer``), the sender's encode step
with its mangled track and encoder (the level on the wire is ours, and aiortc's level function is
never called: ``test_peer``, ``test_peer_levels``), the transceiver's codec list as RED sees it
(each transceiver's ``send``/``receive`` given RED's codec, and the encode step packing RED at
48 kbit/s: ``test_red_connections`` loses packets on a real connection and gets every frame
back, and fails with either hook or the bitrate removed) and aioice's consent task (no task
left: ``test_resources``).
Nothing here assigns into aiortc's or aioice's modules; sounddevice's private parts are in
``audio/portaudio_private.py``.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, cast

import aioice.ice
import aioice.stun
import aiortc.rtp
import av
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.codecs import get_encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.rtcicetransport import candidate_from_aioice
from aiortc.rtcrtpsender import RTCEncodedFrame
from aiortc.rtp import RtpPacket
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp

from mctui.network import NetworkPolicy
from mctui.rtc import red as rfc2198
from mctui.rtc.offer_rules import check_candidate
from mctui.rtc.red import RecentTimestamps, RedEncoder, RedFormat

_OPEN: weakref.WeakSet[RTCPeerConnection] = weakref.WeakSet()


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


#: aiortc's pure-Python version (left in place: nothing process-wide is replaced), for the test
#: that proves ours matches it on mono frames.
ORIGINAL_AUDIO_LEVEL_DBOV: Callable[[av.AudioFrame], int] = aiortc.rtp.compute_audio_level_dbov


def _own_encode_step(sender: RTCRtpSender) -> None:
    """This sender (only) measures each frame's RFC 6464 level with ``audio_level_dbov``, and
    packs RED (``rtc.red``) when it was negotiated.

    aiortc computes the level inside its sender's ``_next_encoded_frame`` through a module
    global; rather than replace that for the whole process, this instance gets its own copy of
    the step: read the track, encode (in the executor, as aiortc does), or pack a pre-encoded
    packet. The sender's private track and encoder are aiortc's name-mangled attributes. With
    RED the codec aiortc hands the step is RED's; the encoder is Opus's (``_mctui_opus``).
    """
    state = sender.__dict__
    if state.get("_mctui_levels"):
        return

    async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        data = await state["_RTCRtpSender__track"].recv()
        if not sender._enabled:
            return None
        red: RedEncoder | None = state.get("_mctui_red_encoder")
        encoder = state["_RTCRtpSender__encoder"]
        if encoder is None:
            encoder = state["_RTCRtpSender__encoder"] = get_encoder(
                state["_mctui_opus"] if red is not None else codec
            )
            if red is not None and isinstance(encoder, OpusEncoder):
                encoder.codec.bit_rate = rfc2198.OPUS_BITRATE  # before the codec opens
        level = None
        if isinstance(data, av.AudioFrame):
            level = audio_level_dbov(data)
            payloads, timestamp = await asyncio.get_running_loop().run_in_executor(
                None, encoder.encode, data, False
            )
        else:
            payloads, timestamp = encoder.pack(data)
        if red is not None:
            payloads = [red.wrap(payload, timestamp) for payload in payloads]
        # aiortc annotates the level as int, and passes None itself for pre-encoded packets
        return RTCEncodedFrame(payloads, timestamp, level) if payloads else None  # type: ignore[arg-type]

    state["_next_encoded_frame"] = next_encoded_frame
    state["_mctui_levels"] = True


def _red_codec(fmt: RedFormat) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType="audio/red", clockRate=48_000, channels=2, payloadType=fmt.red_pt
    )


def _use_red(transceiver: RTCRtpTransceiver, fmt: RedFormat) -> None:
    """Send and receive RED on this transceiver (only): its sender's parameters start with RED
    (aiortc sends with the first codec), its receiver's list it (aiortc's RTP router drops a
    payload type its receiver did not register), and its packets are unpacked on arrival.

    The hooks are installed once and read the format negotiated last (``_mctui_red``)."""
    sender, receiver = transceiver.sender, transceiver.receiver
    hooked = getattr(receiver, "_mctui_red", None) is not None
    setattr(receiver, "_mctui_red", fmt)  # noqa: B010
    if hooked:
        return
    _own_encode_step(sender)
    setattr(receiver, "_mctui_recent", RecentTimestamps())  # noqa: B010
    aiortc_send, aiortc_receive = sender.send, receiver.receive

    async def send(parameters: Any) -> None:
        now: RedFormat = getattr(receiver, "_mctui_red")  # noqa: B009
        opus = next((c for c in parameters.codecs if c.payloadType == now.opus_pt), None)
        if opus is not None:
            sender.__dict__["_mctui_opus"] = opus
            sender.__dict__["_mctui_red_encoder"] = RedEncoder(now.opus_pt)
            parameters.codecs = [_red_codec(now), *parameters.codecs]
        await aiortc_send(parameters)

    async def receive(parameters: Any) -> None:
        now: RedFormat = getattr(receiver, "_mctui_red")  # noqa: B009
        parameters.codecs = [*parameters.codecs, _red_codec(now)]
        await aiortc_receive(parameters)

    sender.send = send  # type: ignore[method-assign]
    receiver.receive = receive  # type: ignore[method-assign]


def _rtc_ice_servers(policy: NetworkPolicy) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=server.url, username=server.username, credential=server.credential)
        for server in policy.ice_servers
    ]


#: How long a trickling connection waits for its STUN server's answer.
STUN_TIMEOUT_S = 5.0


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
        self._trickle_tasks: set[asyncio.Task[None]] = set()

    async def setLocalDescription(
        self, sessionDescription: RTCSessionDescription | None = None
    ) -> None:
        for connection in _ice_connections(self):
            _apply_policy(connection, self)
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
                _use_red(transceiver, fmt)

    def addTransceiver(self, trackOrKind: Any, direction: str = "sendrecv") -> RTCRtpTransceiver:
        transceiver = super().addTransceiver(trackOrKind, direction=direction)
        if transceiver.kind == "audio":
            _own_encode_step(transceiver.sender)
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


def _apply_policy(connection: Any, pc: PolicyPeerConnection) -> None:
    """Give this aioice connection (only) a gather step that offers the policy's addresses, and
    while trickling, hands the STUN step to a task that reports to ``pc.trickled``."""
    if getattr(connection, "_mctui_policy", None) is pc.policy:
        return
    policy = pc.policy

    async def gather_candidates() -> None:
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        addresses = list(policy.host_addresses) or aioice.ice.get_host_addresses(
            use_ipv4=True, use_ipv6=False
        )
        stun_server = connection.stun_server
        if pc.trickle:
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
        if pc.trickle:
            pc._spawn(_trickle_reflexive(connection, stun_server, pc.trickled))

    connection.gather_candidates = gather_candidates
    connection._mctui_policy = policy


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


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """Make ``pc``'s coming answer take the DTLS server role (``a=setup:passive``) wherever
    the offer left the choice to us (``actpass``); call it between setRemoteDescription and
    createAnswer.

    aiortc answers as the DTLS client and sends its ClientHello as soon as its own ICE checks
    succeed. Janus drops DTLS that arrives before its ICE agent reports the path ready, and
    OpenSSL's first retransmission comes only after 1 s: a second of silence for a new
    subscriber in one join of four on a busy machine. As the server, this side waits for
    Janus's ClientHello, which Janus sends once it is ready, and aioice queues it should it
    come before aiortc's DTLS starts. aiortc has no public setting for the role; the
    transport's own ``_set_role`` is what its answer path reads (``lab/test_janus``: no
    retransmission after a join).
    """
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is not None and dtls._role == "auto":
            dtls._set_role("server")


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


class RepairedPacket(RtpPacket):  # type: ignore[misc]
    """A frame a receiver got first from a RED repeat: its own packet is lost, or overtaken by a
    later one on a path that reorders."""


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
            fmt: RedFormat | None = getattr(transceiver.receiver, "_mctui_red", None)
            if fmt is None or packet.payload_type != fmt.red_pt:
                on_packet(transceiver, packet)
                return
            _unpack_red(packet, fmt, transceiver, on_packet)

        receiver._handle_rtp_packet = take  # type: ignore[method-assign]
        setattr(receiver, "_mctui_taken", True)  # noqa: B010


def _unpack_red(
    packet: RtpPacket, fmt: RedFormat, transceiver: RTCRtpTransceiver, on_packet: PacketHandler
) -> None:
    """Hand on each frame of a RED packet that this receiver has not had yet, oldest first, as
    an Opus packet of its own (with the carrying packet's header extensions)."""
    recent: RecentTimestamps = getattr(transceiver.receiver, "_mctui_recent")  # noqa: B009
    try:
        frames = rfc2198.unpack(packet.payload, packet.timestamp)
    except ValueError:
        return  # a malformed packet is a lost one
    for timestamp, payload in frames:
        if not recent.add(timestamp):
            continue
        kind = RtpPacket if timestamp == packet.timestamp else RepairedPacket
        frame = kind(
            payload_type=fmt.opus_pt,
            sequence_number=packet.sequence_number,
            timestamp=timestamp,
            ssrc=packet.ssrc,
            payload=payload,
        )
        frame.extensions = packet.extensions
        on_packet(transceiver, frame)


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
