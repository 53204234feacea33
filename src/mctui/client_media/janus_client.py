"""The client side of a Janus SFU: the publisher offers as with the embedded SFU; Janus makes
the subscriber connection's offers (one at first, a new one whenever publishers come or go) and
this side answers. Everything else (playout streams per participant, trickle, the media-path
check, failure reports) is the embedded transport's.
"""

from __future__ import annotations

from aiortc import RTCSessionDescription

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.client_media.embedded_client import EmbeddedSfuTransport
from mctui.client_media.transport import SfuSignals
from mctui.errors import MediaError
from mctui.rtc.peer import answer_as_dtls_server, new_peer_connection, take_audio_packets


class JanusTransport(EmbeddedSfuTransport):
    """One call's media through Janus's VideoRoom (the coordinator relays the signalling)."""

    async def start(
        self,
        join: p.JoinResult,
        adm: AudioDeviceModule,
        signals: SfuSignals,
        *,
        restart: bool = False,
    ) -> None:
        if signals.subscribe is None or signals.answer is None:
            raise MediaError("this client cannot answer an SFU's offers")
        self._adm = adm
        self._signals = signals
        self._restart = restart
        if join.can_publish:
            await self._start_publisher(adm, signals)
        offer = await signals.subscribe()
        if offer.sdp is not None:
            await self._answer(offer.sdp, offer.track_owners)
        await self._wait_for_media_path()

    async def _answer(self, sdp: str, owners: dict[str, str]) -> None:
        async with self._negotiation:
            signals = self._signals
            if self._closed or signals is None or signals.answer is None:
                return
            pc = self.subscriber
            if pc is None:
                pc = new_peer_connection(self.network, trickle=self.trickle)
                self.subscriber = self._watched(pc, p.SfuRole.SUBSCRIBER)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            take_audio_packets(pc, self._on_packet)
            answer_as_dtls_server(pc)
            await pc.setLocalDescription(await pc.createAnswer())
            self._set_owners(owners)
            await signals.answer(p.SfuRole.SUBSCRIBER, pc.local_sdp())
            self._start_trickle(p.SfuRole.SUBSCRIBER, pc)

    def handle_offer(self, event: p.SfuOfferEvent) -> None:
        if not self._closed:
            self._spawn(self._answer(event.sdp, event.track_owners), "rtc-janus-answer")

    def handle_event(self, event: p.SfuTracksEvent) -> None:
        return None  # Janus says who each slot carries with each offer
