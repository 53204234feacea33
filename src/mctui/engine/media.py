"""One call's media objects: its audio device module and its transport to the SFU.

The ``Call`` decides *when* media starts, restarts and stops; ``CallMedia`` knows *how*: it makes
the ADM, builds the transport for the SFU the server named, carries the transport's offers and
candidates to the coordinator, and rebuilds the transport when its connections failed (the ADM,
with its holds and meters, stays).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.client_media.factory import create_transport
from mctui.client_media.history import PacketHistory
from mctui.client_media.transport import MediaTransport, SendReport, SfuSignals
from mctui.engine.types import ReceiveStats
from mctui.errors import MctuiError, MediaError, NotConnectedError

if TYPE_CHECKING:
    from mctui.engine.host import CallHost

log = logging.getLogger(__name__)

#: While the media path is down, new connections are tried this often (each waits for ICE for
#: about as long), so they connect within about this long after the path returns.
RESTART_EVERY_S = 1.5


class CallMedia:
    """The ADM and the SFU transport of one call."""

    def __init__(
        self,
        host: CallHost[Any],
        cid: str,
        on_failure: Callable[[str], None],
        on_holds_changed: Callable[[AudioDeviceModule], None],
    ) -> None:
        self._host = host
        self._cid = cid
        self._on_failure = on_failure
        self._on_holds_changed = on_holds_changed
        self.adm: AudioDeviceModule | None = None
        self.transport: MediaTransport | None = None
        #: The room's last minute as received, across transport rebuilds (``Call.replay``).
        self.history = PacketHistory()

    @property
    def healthy(self) -> bool:
        """True while every media connection is up."""
        return self.transport is not None and self.transport.healthy

    async def send_report(self) -> SendReport | None:
        """What the SFU's receiver reports say of this call's outgoing audio."""
        return await self.transport.send_report() if self.transport is not None else None

    def receive_stats(self) -> dict[str, ReceiveStats]:
        """Per remote participant: what the playout received, played, concealed, got late."""
        if self.transport is None:
            return {}
        return {
            pid: ReceiveStats(s.received, s.played, s.concealed, s.late, s.repaired)
            for pid, s in self.transport.receive_stats().items()
        }

    def handle_event(self, event: p.SfuTracksEvent | p.SfuCandidateEvent | p.SfuOfferEvent) -> None:
        """The SFU's word for the transport: slots, trickled candidates, new offers."""
        transport = self.transport
        if transport is None:
            return
        if isinstance(event, p.SfuTracksEvent):
            transport.handle_event(event)
        elif isinstance(event, p.SfuCandidateEvent):
            transport.handle_candidate(event)
        else:
            transport.handle_offer(event)

    async def start(self, join: p.JoinResult, config: AudioConfigurationPolicy) -> None:
        adm = self._host.audio.create_adm(self._cid, config)
        adm.set_hold_observer(self._on_holds_changed)
        self.adm = adm
        await self._start_transport(join, adm, restart=False)
        await self._host.audio.start()

    async def restart(
        self, join: p.JoinResult, deadline: float, still_wanted: Callable[[], bool]
    ) -> bool:
        """New connections to the SFU, tried again every ``RESTART_EVERY_S`` until they connect
        or ``deadline`` (``time.monotonic()``), when ``MediaError`` says why. False: the
        signalling dropped (or the call stopped wanting it) before; the caller tries later."""
        adm = self.adm
        while adm is not None and still_wanted():
            old, self.transport = self.transport, None
            if old is not None:
                await old.close()
            started = time.monotonic()
            try:
                await self._start_transport(join, adm, restart=True)
                return True
            except NotConnectedError:
                return False
            except Exception as exc:  # MediaError, or aiortc's own on a half-built connection
                reason = exc.message if isinstance(exc, MctuiError) else repr(exc)
                if time.monotonic() >= deadline:
                    raise MediaError(f"media failed: {reason}") from exc
                log.info("%s: media not back yet (%s)", self._cid, reason)
            await asyncio.sleep(max(0.0, RESTART_EVERY_S - (time.monotonic() - started)))
        return False

    async def _start_transport(
        self, join: p.JoinResult, adm: AudioDeviceModule, *, restart: bool
    ) -> None:
        transport = create_transport(join.sfu, self._host.network_for(join.sfu.media_host))
        transport.on_failure = self._on_failure
        transport.on_packet = self.history.record
        self.transport = transport
        signals = SfuSignals(self._offer, self._candidate, self._subscribe, self._answer)
        await transport.start(join, adm, signals, restart=restart)

    async def _offer(self, role: p.SfuRole, sdp: str, trickle: bool, restart: bool) -> p.SfuAnswer:
        return await self._host.request(
            p.SfuSignalRequest,
            cid=self._cid, role=role, sdp=sdp, sdp_type="offer", trickle=trickle, restart=restart,
        )  # fmt: skip

    async def _subscribe(self) -> p.SfuOffer:
        return await self._host.request(p.SfuSubscribeRequest, cid=self._cid)

    async def _answer(self, role: p.SfuRole, sdp: str) -> None:
        await self._host.request(
            p.SfuSignalRequest, cid=self._cid, role=role, sdp=sdp, sdp_type="answer"
        )

    async def _candidate(self, role: p.SfuRole, candidate: str | None, mid: str | None) -> None:
        await self._host.request(
            p.SfuCandidateRequest,
            cid=self._cid, role=role, candidate=candidate, sdp_mid=mid,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop the transport and give the ADM back to the audio session."""
        transport, self.transport = self.transport, None
        adm, self.adm = self.adm, None
        if transport is not None:
            try:
                await transport.close()
            except Exception:  # pragma: no cover - best effort on teardown
                log.exception("closing the media transport of %s failed", self._cid)
        if adm is not None:
            self._host.audio.remove_adm(adm)
