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
from mctui.engine.state import AudioMode, CallState, ClientConnection, ClientState

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
    connection: ClientConnection


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
)
Sink = Callable[[BridgeEvent], None]


class EngineBridge:
    """Subscribes to one client and its calls; ``sink`` receives every change as an event."""

    def __init__(self, client: Client, sink: Sink) -> None:
        self.client = client
        self._sink = sink
        self._known: list[Call] = []
        self._focused: Call | None = client.state.focused_call
        self._stops: list[Callable[[], None]] = []
        self._call_stops: dict[str, list[Callable[[], None]]] = {}

    def start(self) -> None:
        """Subscribe; announce calls already active and a notice already raised."""
        state = self.client.state
        self._stops = [
            state.observe(ClientState.active_calls).listen(self._on_calls),
            state.observe(ClientState.focused_call).listen(self._on_focus),
            state.observe(ClientState.incoming_call).listen(self._on_ring),
            state.observe(ClientState.audio_notice).listen(self._on_notice),
            state.observe(ClientState.audio_error).listen(self._on_error),
            state.observe(ClientState.connection).listen(
                lambda c: self._sink(ConnectionChanged(c))
            ),
        ]
        self._on_calls(list(state.active_calls))
        if state.audio_notice:
            self._on_notice(state.audio_notice)

    def watch(self, call: Call) -> None:
        """Follow ``call``'s changes (done for active and ringing calls by itself)."""
        if call.cid in self._call_stops:
            return

        def changed(_: object) -> None:
            self._sink(CallChanged(call))

        def mode(value: AudioMode) -> None:
            if call in self.client.state.active_calls:
                self._sink(AudioModeChanged(call, value))

        stops = [call.state.observe(f).listen(changed) for f in WATCHED_CALL_FIELDS]
        stops.append(call.state.observe(CallState.audio_mode).listen(mode))
        stops.append(
            call.state.observe(CallState.participants).listen(
                lambda _: self._sink(LevelsChanged(call))
            )
        )
        self._call_stops[call.cid] = stops

    def unwatch(self, call: Call) -> None:
        self._unwatch(call.cid)

    def _unwatch(self, cid: str) -> None:
        for stop in self._call_stops.pop(cid, []):
            stop()

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
