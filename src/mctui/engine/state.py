"""Observable state of the client and of each call.

Attributes read as plain current values (``call.state.is_audio_suspended`` is a ``bool``); the same
names can be observed: ``state.observe("is_audio_suspended")`` returns the ``Observable``, and
``state.changes("active_calls")`` is an async iterator of its changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from mctui.audio.levels import FLOOR_DBFS
from mctui.engine.observable import Observable
from mctui.engine.types import User

if TYPE_CHECKING:
    from mctui.engine.call import Call


class CallConnection(StrEnum):
    IDLE = "idle"
    JOINING = "joining"
    JOINED = "joined"
    RECONNECTING = "reconnecting"
    LEFT = "left"
    FAILED = "failed"


class ClientConnection(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class AudioMode(StrEnum):
    """What a call's audio does right now, as decided by the policy and the user."""

    FOCUSED = "focused"  # holds the microphone (if it can publish) and the speaker at 0 dB
    DUCKED = "ducked"  # holds the speaker at the duck gain, never the microphone
    SUSPENDED = "suspended"  # holds nothing; its audio tracks are disabled


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in a call as this client sees them."""

    user: User
    role: str = "member"
    is_local: bool = False
    is_speaking: bool = False
    audio_level: float = FLOOR_DBFS
    audio_peak: float = FLOOR_DBFS
    audio_muted: bool = False
    published_tracks: frozenset[str] = field(default_factory=frozenset)
    #: True when this client plays this participant's audio now (its call holds the speaker).
    #: A suspended call's participants still carry level and speaking state, from the SFU.
    heard: bool = False


@dataclass(frozen=True, slots=True)
class RingInfo:
    """An incoming ring: who rang, and when it times out (``time.monotonic()``), if known."""

    caller: User
    expires_at: float | None = None


T = TypeVar("T")


class ObservedList(list[T]):
    """A plain list (the current value) that can also be iterated asynchronously for changes.

    ``client.state.active_calls == [a, b]`` works as for any list; ``async for calls in
    client.state.active_calls`` yields each later value; ``.value`` is the current one.
    """

    def __init__(self, items: Iterable[T], observable: Observable[Any]) -> None:
        super().__init__(items)
        self._observable = observable

    @property
    def value(self) -> list[T]:
        return list(self._observable.value)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._observable.changes()


class _StateBase:
    """Shared plumbing: named observables, read as values, observed by name."""

    def __init__(self, **initial: Any) -> None:
        self._observables: dict[str, Observable[Any]] = {
            name: Observable(value) for name, value in initial.items()
        }

    def observe(self, name: str) -> Observable[Any]:
        """The ``Observable`` behind attribute ``name``."""
        try:
            return self._observables[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no observable {name!r}") from None

    def changes(self, name: str, *, include_current: bool = False) -> AsyncIterator[Any]:
        """Async iterator of the changes of attribute ``name``."""
        return self.observe(name).changes(include_current=include_current)

    def _get(self, name: str) -> Any:
        return self._observables[name].value

    def _set(self, name: str, value: Any) -> None:
        self._observables[name].set(value)


class ClientState(_StateBase):
    """``client.state``: the calls, the ring, the focus and the connection."""

    def __init__(self) -> None:
        super().__init__(
            active_calls=[],
            incoming_call=None,
            focused_call=None,
            connection=ClientConnection.DISCONNECTED,
            audio_notice=None,
            audio_error=None,
        )

    @property
    def active_calls(self) -> ObservedList[Call]:
        """Joined (or joining) calls, in the order they were added (async-iterable too)."""
        return ObservedList(self._get("active_calls"), self.observe("active_calls"))

    @property
    def incoming_call(self) -> Call | None:
        """The call ringing this user now, if any."""
        value: Call | None = self._get("incoming_call")
        return value

    @property
    def focused_call(self) -> Call | None:
        """The call that most recently took the audio and still holds it fully."""
        value: Call | None = self._get("focused_call")
        return value

    @property
    def connection(self) -> ClientConnection:
        value: ClientConnection = self._get("connection")
        return value

    @property
    def audio_error(self) -> str | None:
        """The last thing the audio path lost that the user asked for (a recording), if any."""
        value: str | None = self._get("audio_error")
        return value

    @property
    def audio_notice(self) -> str | None:
        """A one-line note about the audio device (e.g. why the null device is in use)."""
        value: str | None = self._get("audio_notice")
        return value


class CallState(_StateBase):
    """``call.state``: connection, audio mode, microphone and participants of one call."""

    def __init__(self) -> None:
        super().__init__(
            connection=CallConnection.IDLE,
            audio_mode=AudioMode.FOCUSED,
            is_audio_suspended=False,
            is_audio_ducked=False,
            microphone_enabled=True,
            camera_enabled=False,
            holds_microphone=False,
            holds_speaker=False,
            is_capturing=False,
            participants=(),
            ringing=None,
            outgoing_ring=frozenset(),
            ring_responses={},
            role=None,
            can_publish=True,
            ended=False,
        )

    @property
    def connection(self) -> CallConnection:
        value: CallConnection = self._get("connection")
        return value

    @property
    def audio_mode(self) -> AudioMode:
        value: AudioMode = self._get("audio_mode")
        return value

    @property
    def is_audio_suspended(self) -> bool:
        return bool(self._get("is_audio_suspended"))

    @property
    def is_audio_ducked(self) -> bool:
        return bool(self._get("is_audio_ducked"))

    @property
    def microphone_enabled(self) -> bool:
        """The user's wish for this call's microphone (what the mute button shows)."""
        return bool(self._get("microphone_enabled"))

    @property
    def camera_enabled(self) -> bool:
        return bool(self._get("camera_enabled"))

    @property
    def holds_microphone(self) -> bool:
        return bool(self._get("holds_microphone"))

    @property
    def holds_speaker(self) -> bool:
        return bool(self._get("holds_speaker"))

    @property
    def is_capturing(self) -> bool:
        """True while microphone audio actually flows into this call."""
        return bool(self._get("is_capturing"))

    @property
    def participants(self) -> ObservedList[Participant]:
        """Everyone in the call, you first (async-iterable too)."""
        return ObservedList(self._get("participants"), self.observe("participants"))

    @property
    def local_participant(self) -> Participant | None:
        return next((p for p in self.participants if p.is_local), None)

    @property
    def remote_participants(self) -> list[Participant]:
        return [p for p in self.participants if not p.is_local]

    @property
    def ringing(self) -> RingInfo | None:
        """Set while this call rings the local user."""
        value: RingInfo | None = self._get("ringing")
        return value

    @property
    def outgoing_ring(self) -> frozenset[str]:
        """Users this client rang who have not answered yet."""
        value: frozenset[str] = self._get("outgoing_ring")
        return value

    @property
    def ring_responses(self) -> dict[str, str]:
        """How each user this client rang answered: accepted, decline, busy, cancel or missed."""
        return dict(self._get("ring_responses"))

    def _note_ring_response(self, user_id: str, response: str) -> None:
        self._set("ring_responses", {**self._get("ring_responses"), user_id: response})

    @property
    def role(self) -> str | None:
        value: str | None = self._get("role")
        return value

    @property
    def can_publish(self) -> bool:
        return bool(self._get("can_publish"))

    @property
    def ended(self) -> bool:
        return bool(self._get("ended"))
