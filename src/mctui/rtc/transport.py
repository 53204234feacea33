"""The SFU transport interface: how one call's audio reaches the SFU and comes back.

The engine creates one transport per call (its own "factory": its own peer connections) when the
call first joins, hands it the call's ADM, and closes it when the call leaves. Which class is used
depends on the ``SfuInfo`` the coordinator returned from ``join``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.rtc.jitter import JitterStats

#: Sends an SDP offer to the coordinator for this call: (role, sdp, trickle, restart) -> the SFU's
#: answer. ``restart``: this offer replaces a connection that failed.
SignalFn = Callable[[str, str, bool, bool], Awaitable[p.SfuAnswer]]
#: Told once when the transport's media path fails by itself (not when it is closed).
FailureFn = Callable[[str], None]
#: Sends one trickled candidate (role, ``candidate:...`` or None for the end, sdp mid).
CandidateFn = Callable[[str, str | None, str | None], Awaitable[None]]


#: Asks an SFU that offers the subscriber connection itself (Janus) for its offer.
SubscribeFn = Callable[[], Awaitable[p.SfuOffer]]
#: Sends this side's answer to such an offer (role, sdp).
AnswerFn = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class SfuSignals:
    """How a transport talks to the SFU through the coordinator, for one call."""

    offer: SignalFn
    candidate: CandidateFn
    subscribe: SubscribeFn | None = None
    answer: AnswerFn | None = None


class MediaTransport(ABC):
    """Moves one call's audio between its ADM and the SFU."""

    #: Called with a reason when the media path fails on its own (ICE consent lost ...).
    on_failure: FailureFn | None = None

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
