"""One bridge from the engine to a user interface: observable changes in, typed events out.

Both the Textual app and headless mode use it. It subscribes to the client's state and to each
call it sees (active or ringing), turns every change into one small frozen dataclass, and hands it
to the UI's ``sink`` synchronously, on the loop, in the order the engine made the changes. It
closes a call's subscriptions when the call is neither active nor ringing any more, and all of
them on ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mctui.engine.call import Call
from mctui.engine.client import Client
from mctui.engine.client_state import ClientState
from mctui.engine.state import AudioMode, CallConnection, CallState, ClientConnection

LIVE_CONNECTIONS = (CallConnection.JOINING, CallConnection.JOINED, CallConnection.RECONNECTING)

#: The call fields whose change is worth a ``CallChanged`` (levels have their own event).
WATCHED_CALL_FIELDS = (
    CallState.audio_mode,
    CallState.microphone_enabled,
    CallState.connection,
    CallState.holds_microphone,
    CallState.holds_speaker,
    CallState.is_capturing,
    CallState.ringing,
    CallState.outgoing_ring,
    CallState.volume_db,
    CallState.pan,
    CallState.transmit,
    CallState.activity,
    CallState.recording,
    CallState.replaying,
)


@dataclass(frozen=True, slots=True)
class CallJoined:
    """A call became active (it is joining or joined)."""

    call: Call


@dataclass(frozen=True, slots=True)
class CallLeft:
    call: Call


@dataclass(frozen=True, slots=True)
class FocusChanged:
    """The focused call changed (one event per decision: A -> B)."""

    previous: Call | None
    current: Call | None


@dataclass(frozen=True, slots=True)
class AudioModeChanged:
    """An active call was suspended, ducked or resumed."""

    call: Call
    mode: AudioMode


@dataclass(frozen=True, slots=True)
class CallChanged:
    """Something a pane shows about a call changed (mode, mic, holds, connection, ring)."""

    call: Call


@dataclass(frozen=True, slots=True)
class LevelsChanged:
    """New participant levels for a call (up to 25 Hz per call)."""

    call: Call


@dataclass(frozen=True, slots=True)
class RingChanged:
    """The call ringing this user now (``None``: no ring any more)."""

    call: Call | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A one-line notice from the audio path: a warning, or an error (something was lost)."""

    text: str
    severity: Literal["warning", "error"]


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The connection to the server changed, or a (re)connect attempt began or failed."""

    connection: ClientConnection
    attempt: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnected:
    """Every call is back after an outage of ``downtime_s`` seconds."""

    downtime_s: float


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    call: Call
    user_id: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    call: Call
    user_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParticipantAway:
    """A participant's connection was lost (``away``) or came back, their place kept."""

    call: Call
    user_id: str
    away: bool


BridgeEvent = (
    CallJoined
    | CallLeft
    | FocusChanged
    | AudioModeChanged
    | CallChanged
    | LevelsChanged
    | RingChanged
    | Notice
    | ConnectionChanged
    | Reconnected
    | ParticipantJoined
    | ParticipantLeft
    | ParticipantAway
)
Sink = Callable[[BridgeEvent], None]


class EngineBridge:
    """Subscribes to one client and its calls; ``sink`` receives every change as an event."""

    def __init__(
        self, client: Client, sink: Sink, *, on_levels: Callable[[Call], None] | None = None
    ) -> None:
        """``on_levels``: called (no event) when a call's levels move, for a UI that reads them
        at its own display rate; without it each move is a ``LevelsChanged`` event (up to 25 Hz
        per call, which headless mode prints)."""
        self.client = client
        self._sink = sink
        self._on_levels = on_levels
        self._known: list[Call] = []
        self._focused: Call | None = client.state.focused_call
        self._stops: list[Callable[[], None]] = []
        self._call_stops: dict[str, list[Callable[[], None]]] = {}
        #: Per watched call: who was in it at the last change, and whether they were away.
        self._present: dict[str, dict[str, bool]] = {}

    def start(self) -> None:
        """Subscribe; announce calls already active and a notice already raised."""
        state = self.client.state
        self._stops = [
            state.observe(ClientState.active_calls).listen(self._on_calls),
            state.observe(ClientState.focused_call).listen(self._on_focus),
            state.observe(ClientState.incoming_call).listen(self._on_ring),
            state.observe(ClientState.audio_notice).listen(self._on_notice),
            state.observe(ClientState.audio_error).listen(self._on_error),
            state.observe(ClientState.connection).listen(lambda _: self._on_connection()),
            state.observe(ClientState.reconnect_attempt).listen(lambda _: self._on_connection()),
            state.observe(ClientState.last_outage_s).listen(self._on_outage),
        ]
        self._on_calls(list(state.active_calls))
        if state.audio_notice:
            self._on_notice(state.audio_notice)

    def watch(self, call: Call) -> None:
        """Follow ``call``'s changes (done for active and ringing calls by itself)."""
        if call.cid in self._call_stops:
            return

        def changed() -> None:
            self._sink(CallChanged(call))

        def mode(value: AudioMode) -> None:
            if call in self.client.state.active_calls:
                self._sink(AudioModeChanged(call, value))

        stops = [call.state.listen_any(WATCHED_CALL_FIELDS, changed)]  # one per decision
        stops.append(call.state.observe(CallState.audio_mode).listen(mode))

        def participants(_: object) -> None:
            self._diff_participants(call)
            if self._on_levels is not None:
                self._on_levels(call)
            else:
                self._sink(LevelsChanged(call))

        stops.append(call.state.observe(CallState.participants).listen(participants))
        self._call_stops[call.cid] = stops

    def unwatch(self, call: Call) -> None:
        self._unwatch(call.cid)

    def _unwatch(self, cid: str) -> None:
        self._present.pop(cid, None)
        for stop in self._call_stops.pop(cid, []):
            stop()

    def _diff_participants(self, call: Call) -> None:
        """Who joined, left, dropped away or came back since the last change (only while the
        call is live: leaving it empties the list without anyone leaving)."""
        if call.state.connection not in LIVE_CONNECTIONS:
            self._present.pop(call.cid, None)
            return
        before = self._present.get(call.cid, {})
        now = {p.user.id: p.away for p in call.state.remote_participants}
        self._present[call.cid] = now
        for user_id, away in now.items():
            if user_id not in before:
                self._sink(ParticipantJoined(call, user_id))
            elif before[user_id] != away:
                self._sink(ParticipantAway(call, user_id, away))
        for user_id in before:
            if user_id not in now:
                reason = call.departure_reasons.get(user_id, "left")
                self._sink(ParticipantLeft(call, user_id, reason))

    def _on_connection(self) -> None:
        state = self.client.state
        self._sink(
            ConnectionChanged(state.connection, state.reconnect_attempt, state.connection_reason)
        )

    def _on_outage(self, seconds: float | None) -> None:
        if seconds is not None:
            self._sink(Reconnected(seconds))

    @property
    def watched(self) -> frozenset[str]:
        """The cids whose changes are followed now."""
        return frozenset(self._call_stops)

    def close(self) -> None:
        for stop in self._stops:
            stop()
        self._stops = []
        for cid in list(self._call_stops):
            self._unwatch(cid)

    # --- client changes -----------------------------------------------------------------------

    def _on_calls(self, calls: list[Call]) -> None:
        for call in calls:
            if call not in self._known:
                self._known.append(call)
                self.watch(call)
                self._sink(CallJoined(call))
        for call in list(self._known):
            if call not in calls:
                self._known.remove(call)
                if call is not self.client.state.incoming_call:
                    self.unwatch(call)
                self._sink(CallLeft(call))

    def _on_focus(self, call: Call | None) -> None:
        previous, self._focused = self._focused, call
        self._sink(FocusChanged(previous, call))

    def _on_ring(self, call: Call | None) -> None:
        if call is not None:
            self.watch(call)
        for cid in list(self._call_stops):
            ringing_only = all(c.cid != cid for c in self._known)
            if ringing_only and (call is None or call.cid != cid):
                self._unwatch(cid)
        self._sink(RingChanged(call))

    def _on_notice(self, text: str | None) -> None:
        if text:
            self._sink(Notice(text, "warning"))

    def _on_error(self, text: str | None) -> None:
        if text:
            self._sink(Notice(text, "error"))
