"""The SFU transport interface: how one call's audio reaches the SFU and comes back.

The engine creates one transport per call (its own "factory": its own peer connections) when the
call first joins, hands it the call's ADM, and closes it when the call leaves. Which class is used
depends on the ``SfuInfo`` the coordinator returned from ``join``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.client_media.jitter import JitterStats

#: Sends an SDP offer to the coordinator for this call: (role, sdp, trickle, restart) -> the SFU's
#: answer. ``restart``: this offer replaces a connection that failed.
SignalFn = Callable[[p.SfuRole, str, bool, bool], Awaitable[p.SfuAnswer]]
#: Told once when the transport's media path fails by itself (not when it is closed).
FailureFn = Callable[[str], None]
#: ``(participant id, RTP timestamp, Opus payload)``: each packet received, for the history.
PacketFn = Callable[[str, int, bytes], None]
#: Sends one trickled candidate (role, ``candidate:...`` or None for the end, sdp mid).
CandidateFn = Callable[[p.SfuRole, str | None, str | None], Awaitable[None]]


#: Asks an SFU that offers the subscriber connection itself (Janus) for its offer.
SubscribeFn = Callable[[], Awaitable[p.SfuOffer]]
#: Sends this side's answer to such an offer (role, sdp).
AnswerFn = Callable[[p.SfuRole, str], Awaitable[None]]


@dataclass(frozen=True)
class SfuSignals:
    """How a transport talks to the SFU through the coordinator, for one call."""

    offer: SignalFn
    candidate: CandidateFn
    subscribe: SubscribeFn | None = None
    answer: AnswerFn | None = None


@dataclass(frozen=True)
class SendReport:
    """What the other side's receiver reports (RTCP) say of this client's outgoing audio: its
    packets sent, lost in all, the fraction lost in the last report's interval (0-1), the
    interarrival jitter and the round trip, when known."""

    sent: int
    lost: int
    fraction_lost: float
    jitter_ms: float
    rtt_ms: float | None


def send_report(stats: dict[str, Any]) -> SendReport | None:
    """A ``SendReport`` from an aiortc sender's ``getStats()``, once a receiver report came."""
    values = list(stats.values())
    remote = next((s for s in values if s.type == "remote-inbound-rtp"), None)
    sent = next((s for s in values if s.type == "outbound-rtp"), None)
    if remote is None or sent is None:
        return None
    rtt = remote.roundTripTime
    return SendReport(
        sent=int(sent.packetsSent),
        lost=int(remote.packetsLost),
        fraction_lost=float(remote.fractionLost) / 256.0,  # the report's byte: lost / 256
        jitter_ms=float(remote.jitter) / 48.0,  # in Opus's 48 kHz RTP clock
        rtt_ms=None if rtt is None else float(rtt) * 1000.0,
    )


class MediaTransport(ABC):
    """Moves one call's audio between its ADM and the SFU."""

    #: Called with a reason when the media path fails on its own (ICE consent lost ...).
    on_failure: FailureFn | None = None
    #: Told of every audio packet received, whoever is heard (the room's replay history).
    on_packet: PacketFn | None = None

    @abstractmethod
    async def start(
        self,
        join: p.JoinResult,
        adm: AudioDeviceModule,
        signals: SfuSignals,
        *,
        restart: bool = False,
    ) -> None:
        """Connect: publish the ADM's capture (if the role may publish) and subscribe to others.
        ``restart``: this replaces the call's earlier transport, whose connections failed or
        were lost with the signalling (the SFU drops the old ones)."""

    @property
    def healthy(self) -> bool:
        """True while every media connection is connected."""
        return True

    @abstractmethod
    def handle_event(self, event: p.SfuTracksEvent) -> None:
        """The SFU's word on which participant each receive slot carries, and how many it needs."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every connection and task this transport started."""

    def handle_candidate(self, event: p.SfuCandidateEvent) -> None:
        """One of the SFU's trickled ICE candidates (or the end of them)."""
        return None

    def handle_offer(self, event: p.SfuOfferEvent) -> None:
        """A new offer for the subscriber connection from an SFU that makes them (Janus)."""
        return None

    def receive_stats(self) -> dict[str, JitterStats]:
        """Per remote participant: what the playout received, played, concealed, got late."""
        return {}

    async def send_report(self) -> SendReport | None:
        """What the SFU's receiver reports say of the audio this side sends, if anything."""
        return None


class NoMediaTransport(MediaTransport):
    """For a coordinator without an SFU: the call is joined, no audio flows over the network."""

    def __init__(self) -> None:
        self.started = False
        self.closed = False

    async def start(
        self,
        join: p.JoinResult,
        adm: AudioDeviceModule,
        signals: SfuSignals,
        *,
        restart: bool = False,
    ) -> None:
        self.started = True

    def handle_event(self, event: p.SfuTracksEvent) -> None:
        return None

    async def close(self) -> None:
        self.closed = True
