"""The client side of the embedded SFU: one publisher and one subscriber connection per call.

The call's ADM pushes captured frames into a ``CaptureTrack`` sent on the publisher connection. The
subscriber connection has one receive slot per other publisher; each packet a slot receives goes
into the ``PlayoutStream`` (adaptive jitter buffer + concealing decoder) of the participant the
SFU says the slot carries, and the ADM pulls each stream at the device's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.rtp import RtpPacket

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.client_media.jitter import JitterStats
from mctui.client_media.playout import PlayoutStream
from mctui.client_media.transport import MediaTransport, SendReport, SfuSignals, send_report
from mctui.errors import MediaError
from mctui.network import NetworkPolicy
from mctui.rtc.peer import (
    SETTLED_STATES,
    PolicyPeerConnection,
    RepairedPacket,
    add_remote_candidate,
    close_peer_connection,
    new_peer_connection,
    take_audio_packets,
    wait_connected,
)
from mctui.rtc.tracks import CaptureTrack

log = logging.getLogger(__name__)

#: Receive slots offered up front and added per renegotiation beyond what is needed: most joins
#: and leaves then need no renegotiation at all.
MIN_SLOTS = 4
SPARE_SLOTS = 2
CONNECT_TIMEOUT_S = 10.0
#: How long a join waits for ICE and DTLS before it says there is no media path.
ICE_TIMEOUT_S = 8.0
#: After ICE has found a path, how much longer a join waits for DTLS's handshake: on a lossy link
#: whole flights are lost and its retry timer doubles from 1 s (one network benchmark run, 20 %
#: loss each way, had a join still "connecting" after 8 s).
DTLS_GRACE_S = 15.0
#: The same for a restart: short, as the call tries again at once (aioice's checks back off,
#: so a fresh attempt notices a returned path sooner than a long one).
RESTART_ICE_TIMEOUT_S = 1.5


class EmbeddedSfuTransport(MediaTransport):
    """One call's media through the embedded SFU."""

    def __init__(self, network: NetworkPolicy | None = None) -> None:
        self.network = network or NetworkPolicy()
        self._adm: AudioDeviceModule | None = None
        self._signals: SfuSignals | None = None
        #: Trickle ICE (RFC 8838) when a STUN server is asked: offers go out before its answer.
        self.trickle = self.network.trickles
        self.publisher: PolicyPeerConnection | None = None
        self.subscriber: PolicyPeerConnection | None = None
        self.capture: CaptureTrack | None = None
        self.owners: dict[str, str] = {}
        self.streams: dict[str, PlayoutStream] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._negotiation = asyncio.Lock()
        self._closed = False
        self._restart = False
        self.on_failure = None
        self.first_frame: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.connected_at: dict[str, float] = {}

    async def start(
        self,
        join: p.JoinResult,
        adm: AudioDeviceModule,
        signals: SfuSignals,
        *,
        restart: bool = False,
    ) -> None:
        self._adm = adm
        self._signals = signals
        self._restart = restart
        # The others first: their audio is what a user waits for after pressing join, and the
        # publisher's handshake then runs while the subscriber's is already under way.
        others = max(0, len(join.call.participants) - 1)
        self.subscriber = self._watched(
            new_peer_connection(self.network, trickle=self.trickle, red=True), p.SfuRole.SUBSCRIBER
        )
        await self._negotiate_subscriber(max(MIN_SLOTS, others + SPARE_SLOTS))
        if join.can_publish:
            await self._start_publisher(adm, signals)
        await self._wait_for_media_path()

    @property
    def healthy(self) -> bool:
        return not self._closed and all(
            pc.connectionState == "connected"
            for pc in (self.publisher, self.subscriber)
            if pc is not None
        )

    def _watched(self, pc: PolicyPeerConnection, role: p.SfuRole) -> PolicyPeerConnection:
        """Note when ``pc`` connects (``connected_at``, loop time: where a join's time goes);
        tell ``on_failure`` when it fails or closes while this transport is open (ICE consent
        lost: the path went away for longer than the consent checks allow)."""

        @pc.on("connectionstatechange")  # type: ignore[untyped-decorator]
        def changed() -> None:
            if pc.connectionState == "connected":
                self.connected_at.setdefault(role, asyncio.get_running_loop().time())
            if pc.connectionState in ("failed", "closed") and not self._closed:
                handler, self.on_failure = self.on_failure, None  # once per transport
                if handler is not None:
                    handler(f"the media connection {pc.connectionState}")

        return pc

    async def _wait_for_media_path(self) -> None:
        """Join only when the media really flows: a path that ICE cannot find (an unreachable
        address, a firewall) is a typed error here instead of a silent "joined"."""
        started = asyncio.get_running_loop().time()
        timeout = RESTART_ICE_TIMEOUT_S if self._restart else ICE_TIMEOUT_S
        for role, pc in (
            (p.SfuRole.PUBLISHER, self.publisher),
            (p.SfuRole.SUBSCRIBER, self.subscriber),
        ):
            if pc is None:
                continue
            left = timeout - (asyncio.get_running_loop().time() - started)
            state = await wait_connected(pc, max(0.1, left))
            if state == "connecting" and pc.iceConnectionState == "completed":
                # ICE found the path; DTLS is still retrying its handshake (a lossy link loses
                # whole flights, and its timer doubles from 1 s): that path works, wait for it
                state = await wait_connected(pc, DTLS_GRACE_S)
            if state != "connected":
                offered = ", ".join(self.network.host_addresses) or "every interface"
                raise MediaError(
                    f"no media path to the SFU: the {role} connection is {state} after "
                    f"{asyncio.get_running_loop().time() - started:.1f} s (this side offered "
                    f"{offered}; check the server's --host/--announce and firewalls)"
                )

    async def _start_publisher(self, adm: AudioDeviceModule, signals: SfuSignals) -> None:
        self.capture = CaptureTrack()
        pc = self._watched(
            new_peer_connection(self.network, trickle=self.trickle, red=True), p.SfuRole.PUBLISHER
        )
        self.publisher = pc
        pc.addTransceiver(self.capture, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        answer = await signals.offer(
            p.SfuRole.PUBLISHER, pc.local_sdp(), self.trickle, self._restart
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        self._start_trickle(p.SfuRole.PUBLISHER, pc)
        adm.set_capture_sink(self.capture.push)

    def _start_trickle(self, role: p.SfuRole, pc: PolicyPeerConnection) -> None:
        """Send this connection's late candidates as they come (once per connection)."""
        if not pc.trickle or pc.trickle_sending:
            return
        pc.trickle_sending = True
        self._spawn(self._send_trickled(role, pc), f"rtc-trickle-{role}")

    async def _send_trickled(self, role: p.SfuRole, pc: PolicyPeerConnection) -> None:
        mid = next((t.mid for t in pc.getTransceivers() if t.mid is not None), None)
        while self._signals is not None and not self._closed:
            candidate = await pc.trickled.get()
            try:
                await self._signals.candidate(role, candidate, mid)
            except Exception:  # the connection may still work on the candidates it has
                log.exception("sending a trickled candidate failed")
            if candidate is None:
                return

    def handle_candidate(self, event: p.SfuCandidateEvent) -> None:
        pc = self.publisher if event.role == p.SfuRole.PUBLISHER else self.subscriber
        if pc is not None and not self._closed:
            self._spawn(self._add_candidate(pc, event), "rtc-remote-candidate")

    async def _add_candidate(self, pc: RTCPeerConnection, event: p.SfuCandidateEvent) -> None:
        try:
            await add_remote_candidate(pc, event.candidate, event.sdp_mid)
        except ValueError:
            log.warning("the SFU sent a candidate that could not be used: %s", event.candidate)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _negotiate_subscriber(self, slots: int) -> None:
        async with self._negotiation:
            pc = self.subscriber
            if pc is None or self._closed or self._signals is None:
                return
            have = len(pc.getTransceivers())
            if have >= slots and have > 0 and pc.remoteDescription is not None:
                return
            if pc.remoteDescription is not None:
                # aiortc finishes connecting in a background task; a new offer racing it breaks
                # it (it indexes the old description), so renegotiate only once connected.
                if await wait_connected(pc, CONNECT_TIMEOUT_S) not in SETTLED_STATES:
                    raise TimeoutError("the subscriber connection did not settle")
                slots += SPARE_SLOTS
            for _ in range(max(0, slots - have)):
                pc.addTransceiver("audio", direction="recvonly")
            first = pc.remoteDescription is None
            await pc.setLocalDescription(await pc.createOffer())
            answer = await self._signals.offer(
                p.SfuRole.SUBSCRIBER, pc.local_sdp(), self.trickle, first and self._restart
            )
            if self._closed:
                return
            self.owners = dict(answer.track_owners)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
            take_audio_packets(pc, self._on_packet)
            self._start_trickle(p.SfuRole.SUBSCRIBER, pc)

    def _on_packet(self, transceiver: RTCRtpTransceiver, packet: RtpPacket) -> None:
        """One packet on a receive slot: into the stream of the participant it carries."""
        owner = self.owners.get(transceiver.mid or "")
        adm = self._adm
        if owner is None or adm is None or self._closed:
            return
        stream = self.streams.get(owner)
        if stream is None:
            stream = self.streams[owner] = PlayoutStream(channels=adm.config.playout_channels)
            adm.attach_source(owner, stream)
        stream.push(packet.timestamp, packet.payload, isinstance(packet, RepairedPacket))
        if self.on_packet is not None:
            self.on_packet(owner, packet.timestamp, packet.payload)
        if not self.first_frame.done():
            self.first_frame.set_result(asyncio.get_running_loop().time())

    def receive_stats(self) -> dict[str, JitterStats]:
        """Frames received, concealed and late per participant, as the playout counted them."""
        return {owner: stream.stats for owner, stream in self.streams.items()}

    async def send_report(self) -> SendReport | None:
        pc = self.publisher
        senders = [t.sender for t in pc.getTransceivers() if t.kind == "audio"] if pc else []
        return send_report(await senders[0].getStats()) if senders else None

    def _set_owners(self, owners: dict[str, str]) -> None:
        """Which participant each receive slot carries; streams of those no longer carried go."""
        self.owners = dict(owners)
        carried = set(self.owners.values())
        for owner in [o for o in self.streams if o not in carried]:
            self.streams.pop(owner).close()
            if self._adm is not None:
                self._adm.detach_source(owner)

    def handle_event(self, event: p.SfuTracksEvent) -> None:
        self._set_owners(event.track_owners)
        pc = self.subscriber
        if pc is not None and event.slots_needed > len(pc.getTransceivers()):
            self._spawn(self._renegotiate(event.slots_needed), "rtc-renegotiate")

    async def _renegotiate(self, slots: int) -> None:
        try:
            await self._negotiate_subscriber(slots)
        except Exception:  # the call goes on with the slots it has
            log.exception("subscriber renegotiation failed")

    async def close(self) -> None:
        self._closed = True
        if self._adm is not None:
            self._adm.set_capture_sink(None)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.capture is not None:
            self.capture.stop()
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await close_peer_connection(pc)
        for owner, stream in self.streams.items():
            if self._adm is not None:
                self._adm.detach_source(owner)
            stream.close()
        self.streams.clear()
        if not self.first_frame.done():
            self.first_frame.cancel()
