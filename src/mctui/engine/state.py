"""Observable state of the client and of each call.

Each field is declared once, as a typed descriptor on the state class. Reading it gives the plain
current value (``call.state.is_audio_suspended`` is a ``bool``); ``state.observe(CallState.
audio_mode)`` (or the name, ``state.observe("audio_mode")``) gives its ``Observable``, and
``state.changes(...)`` an async iterator of its changes. Nobody assigns to a field: the object that
owns the state (the ``Call``, the ``Client``, the focus manager) got a ``StateWriter`` when it
created it and is the only one that can write. Derived fields (``is_audio_suspended``) are
computed from their source on every change, never written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

from mctui.audio.levels import FLOOR_DBFS
from mctui.engine.activity import Activity
from mctui.engine.observable import Observable
from mctui.engine.types import ReceiveStats, User


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
    RECONNECTING = "reconnecting"


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
    #: Their connection was lost; the server keeps their place for a grace period.
    away: bool = False


@dataclass(frozen=True, slots=True)
class RingInfo:
    """An incoming ring: who rang, and when it times out (``time.monotonic()``), if known."""

    caller: User
    expires_at: float | None = None


T = TypeVar("T")
S = TypeVar("S")


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


class Field(Generic[T]):
    """One observable field of a state class: read as its value, observed by attribute."""

    def __init__(self, default: T, doc: str = "") -> None:
        self.default = default
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, state: None, owner: type) -> Field[T]: ...
    @overload
    def __get__(self, state: ObservableState, owner: type) -> T: ...
    def __get__(self, state: ObservableState | None, owner: type) -> Field[T] | T:
        if state is None:
            return self
        value: T = state.observe(self).value
        return value

    def __set__(self, state: ObservableState, value: T) -> None:
        raise AttributeError(f"{self.name} is read-only: its owner changes it")


class ListField(Field[list[T]]):
    """A list field: reads as an ``ObservedList`` (a list that is also async-iterable)."""

    @overload  # type: ignore[override]
    def __get__(self, state: None, owner: type) -> ListField[T]: ...
    @overload
    def __get__(self, state: ObservableState, owner: type) -> ObservedList[T]: ...
    def __get__(self, state: ObservableState | None, owner: type) -> ListField[T] | ObservedList[T]:
        if state is None:
            return self
        observable = state.observe(self)
        return ObservedList(observable.value, observable)


class Derived(Generic[S, T]):
    """A field computed from another on every change (stored once, in its source)."""

    def __init__(self, source: Field[S], compute: Callable[[S], T], doc: str = "") -> None:
        self.source = source
        self.compute = compute
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, state: None, owner: type) -> Derived[S, T]: ...
    @overload
    def __get__(self, state: ObservableState, owner: type) -> T: ...
    def __get__(self, state: ObservableState | None, owner: type) -> Derived[S, T] | T:
        if state is None:
            return self
        return self.compute(state.observe(self.source).value)


FieldRef = Field[Any] | Derived[Any, Any] | str


class ObservableState:
    """Shared plumbing: one ``Observable`` per declared field, derived ones kept in step."""

    def __init__(self) -> None:
        self._observables: dict[str, Observable[Any]] = {}
        self._batch_depth = 0
        #: Group listeners (``listen_any``) owed a call when the current batch ends, in order.
        self._owed: dict[int, Callable[[], object]] = {}
        for name, declared in _declared(type(self)):
            if isinstance(declared, Field):
                self._observables[name] = Observable(declared.default)
        for name, declared in _declared(type(self)):
            if isinstance(declared, Derived):
                self._observables[name] = _follow(self._observables[declared.source.name], declared)

    def observe(self, ref: FieldRef) -> Observable[Any]:
        """The ``Observable`` behind a field (``CallState.audio_mode``, or its name)."""
        name = ref if isinstance(ref, str) else ref.name
        try:
            return self._observables[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no observable {name!r}") from None

    def changes(self, ref: FieldRef, *, include_current: bool = False) -> AsyncIterator[Any]:
        """Async iterator of the changes of a field."""
        return self.observe(ref).changes(include_current=include_current)

    def listen_any(
        self, refs: Iterable[FieldRef], listener: Callable[[], object]
    ) -> Callable[[], None]:
        """Call ``listener()`` when any of ``refs`` changes: once per change, or, inside a
        ``batch()``, once when it ends if any of them changed (a decision that moves three
        fields of a call is one change to whoever redraws it). Returns a function that stops."""
        key = id(listener)

        def changed(_: object) -> None:
            if self._batch_depth:
                self._owed[key] = listener
            else:
                listener()

        stops = [self.observe(ref).listen(changed) for ref in refs]

        def stop() -> None:
            for each in stops:
                each()
            self._owed.pop(key, None)

        return stop

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Gather ``listen_any`` calls until the outermost batch ends (per-field listeners and
        async iterators still hear each change at once)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if not self._batch_depth:
                owed, self._owed = self._owed, {}
                for listener in owed.values():
                    listener()


def _follow(source: Observable[Any], derived: Derived[Any, Any]) -> Observable[Any]:
    """An observable that recomputes ``derived`` from ``source`` on each of its changes."""
    follower: Observable[Any] = Observable(derived.compute(source.value))

    def update(value: Any) -> None:
        follower.set(derived.compute(value))

    source.listen(update)
    return follower


def _declared(cls: type) -> list[tuple[str, Field[Any] | Derived[Any, Any]]]:
    found: dict[str, Field[Any] | Derived[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Field | Derived):
                found[name] = value
    return list(found.items())


class StateWriter(Generic[S]):
    """The one handle that changes a state object: kept by its owner, given to nobody else."""

    def __init__(self, state: S) -> None:
        self.state = state

    def set(self, field_: Field[T], value: T) -> None:
        assert isinstance(self.state, ObservableState)
        self.state.observe(field_).set(value)

    def batch(self) -> AbstractContextManager[None]:
        """One change for group listeners however many fields move within (``batch``)."""
        assert isinstance(self.state, ObservableState)
        return self.state.batch()


def _is_suspended(mode: AudioMode) -> bool:
    return mode is AudioMode.SUSPENDED


def _is_ducked(mode: AudioMode) -> bool:
    return mode is AudioMode.DUCKED


class CallState(ObservableState):
    """``call.state``: connection, audio mode, microphone and participants of one call."""

    connection: Field[CallConnection] = Field(CallConnection.IDLE)
    left_reason: Field[str | None] = Field(
        None, "Why the call was left: left, ended, connection lost (...), media failed (...)."
    )
    audio_mode: Field[AudioMode] = Field(AudioMode.FOCUSED)
    is_audio_suspended: Derived[AudioMode, bool] = Derived(audio_mode, _is_suspended)
    is_audio_ducked: Derived[AudioMode, bool] = Derived(audio_mode, _is_ducked)
    microphone_enabled: Field[bool] = Field(
        True, "The user's wish for this call's microphone (what the mute button shows)."
    )
    camera_enabled: Field[bool] = Field(False)
    volume_db: Field[float] = Field(
        0.0, "This room's volume in the speaker mix (dB; -60: silent), before ducking."
    )
    activity: Field[Activity] = Field(
        Activity(),
        "Who spoke when: the last two minutes second by second, the last speaker, "
        "and whether speech went unheard while suspended (rolled once a second).",
    )
    recording: Field[str | None] = Field(
        None, "While this room is recorded: the file (Ogg/Opus: the room left, your mic right)."
    )
    replaying: Field[float | None] = Field(
        None, "While this room's replay plays: how much has played (0 .. 1); else None."
    )
    transmit: Field[bool] = Field(
        False, "The mic goes into this room too, wherever the focus is (cleared on leave)."
    )
    pan: Field[float] = Field(
        0.0, "Where this room sits in the stereo mix: -1 left .. +1 right (stereo output only)."
    )
    holds_microphone: Field[bool] = Field(False)
    holds_speaker: Field[bool] = Field(False)
    is_capturing: Field[bool] = Field(
        False, "True while microphone audio actually flows into this call."
    )
    participants: ListField[Participant] = ListField(
        [], "Everyone in the call, you first (async-iterable too)."
    )
    ringing: Field[RingInfo | None] = Field(None, "Set while this call rings the local user.")
    outgoing_ring: Field[frozenset[str]] = Field(
        frozenset(), "Users this client rang who have not answered yet."
    )
    ring_responses: Field[Mapping[str, str]] = Field(
        MappingProxyType({}),
        "How each user this client rang answered: accepted, decline, busy, cancel, missed.",
    )
    role: Field[str | None] = Field(None)
    can_publish: Field[bool] = Field(True)
    ended: Field[bool] = Field(False)
    receive_stats: Field[Mapping[str, ReceiveStats]] = Field(
        MappingProxyType({}),
        "Per remote participant: frames received, played, concealed and late (once a second).",
    )

    @property
    def local_participant(self) -> Participant | None:
        return next((p for p in self.participants if p.is_local), None)

    @property
    def remote_participants(self) -> list[Participant]:
        return [p for p in self.participants if not p.is_local]
