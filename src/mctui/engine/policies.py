"""Multicall audio policies as strategy objects.

The client consults its policy when a call is added to or removed from ``active_calls`` and when
a call takes the audio back (``resume_audio``, ``switch_focus``). A policy only *decides*: it calls
the host's ``suspend`` / ``duck`` / ``focus`` levers and never touches media itself. Adding a
policy is a new enum member plus a new class registered with ``@register``; the others stay
untouched.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from mctui.engine.state import AudioMode
from mctui.engine.types import MultiCallAudioPolicy


class PolicyCall(Protocol):
    """What a policy may know about a call."""

    @property
    def audio_mode(self) -> AudioMode: ...

    @property
    def suspended_by_user(self) -> bool: ...


class PolicyHost(Protocol):
    """The levers a policy pulls (implemented by the client)."""

    @property
    def active_calls(self) -> Sequence[PolicyCall]: ...

    def suspend(self, call: PolicyCall) -> None:
        """Suspend ``call`` on the policy's behalf (it stays eligible for auto-resume)."""

    def duck(self, call: PolicyCall) -> None:
        """Keep ``call`` audible at the duck gain, without the microphone."""

    def focus(self, call: PolicyCall) -> None:
        """Give ``call`` the microphone and the full-volume speaker."""

    def most_recent_holder(self, candidates: Sequence[PolicyCall]) -> PolicyCall | None:
        """The candidate that most recently held the audio, if any did."""


class AudioPolicy(ABC):
    """One multicall policy."""

    kind: ClassVar[MultiCallAudioPolicy]
    #: What ``switch_focus`` does to the call losing the focus.
    background_mode: ClassVar[AudioMode] = AudioMode.SUSPENDED

    @abstractmethod
    def on_set_active(self, host: PolicyHost, call: PolicyCall) -> None:
        """``call`` was just added to the active calls."""

    @abstractmethod
    def on_remove_active(self, host: PolicyHost, call: PolicyCall) -> None:
        """``call`` was just removed from the active calls (it is no longer among them)."""

    @abstractmethod
    def before_resume(self, host: PolicyHost, call: PolicyCall) -> None:
        """``call`` is about to take the audio back; make room first if the policy is exclusive."""

    def preview(self, host: PolicyHost, call: PolicyCall) -> AudioPreview:
        """What ``on_set_active(call)`` would do, without doing it (for "accepting will...")."""
        return AudioPreview()


@dataclass(frozen=True)
class AudioPreview:
    """The effect of making a call active: which calls get suspended, ducked or share devices."""

    suspends: tuple[PolicyCall, ...] = ()
    ducks: tuple[PolicyCall, ...] = ()
    shares_with: tuple[PolicyCall, ...] = ()
    leaves: tuple[PolicyCall, ...] = ()
    joins_suspended: bool = False


_REGISTRY: dict[MultiCallAudioPolicy, type[AudioPolicy]] = {}


def register(cls: type[AudioPolicy]) -> type[AudioPolicy]:
    _REGISTRY[cls.kind] = cls
    return cls


def policy_for(kind: MultiCallAudioPolicy) -> AudioPolicy:
    """A fresh strategy object for ``kind``."""
    return _REGISTRY[kind]()


def _others(host: PolicyHost, call: PolicyCall) -> list[PolicyCall]:
    return [c for c in host.active_calls if c is not call]


def _focused(calls: Sequence[PolicyCall]) -> list[PolicyCall]:
    return [c for c in calls if c.audio_mode is AudioMode.FOCUSED]


def _resume_most_recent(host: PolicyHost) -> None:
    """Auto-resume: if nobody holds the audio fully, the most recent holder gets it back.

    Never a call the user suspended by hand; never a second call while one holds the audio.
    """
    remaining = list(host.active_calls)
    if _focused(remaining):
        return
    candidates = [c for c in remaining if not c.suspended_by_user]
    if not candidates:
        return
    pick = host.most_recent_holder(candidates) or candidates[-1]
    host.focus(pick)


@register
class SuspendExisting(AudioPolicy):
    """The newest call wins; the previous one resumes when the newer leaves."""

    kind = MultiCallAudioPolicy.SUSPEND_EXISTING

    def on_set_active(self, host: PolicyHost, call: PolicyCall) -> None:
        for other in _others(host, call):
            if other.audio_mode is not AudioMode.SUSPENDED:
                host.suspend(other)
        host.focus(call)

    def on_remove_active(self, host: PolicyHost, call: PolicyCall) -> None:
        _resume_most_recent(host)

    def before_resume(self, host: PolicyHost, call: PolicyCall) -> None:
        for other in _focused(_others(host, call)):
            host.suspend(other)

    def preview(self, host: PolicyHost, call: PolicyCall) -> AudioPreview:
        others = _others(host, call)
        return AudioPreview(
            suspends=tuple(c for c in others if c.audio_mode is not AudioMode.SUSPENDED)
        )


@register
class SuspendIncoming(AudioPolicy):
    """The first call keeps the audio; later joins wait suspended. Nothing resumes by itself."""

    kind = MultiCallAudioPolicy.SUSPEND_INCOMING

    def on_set_active(self, host: PolicyHost, call: PolicyCall) -> None:
        if _focused(_others(host, call)):
            host.suspend(call)
        else:
            host.focus(call)

    def on_remove_active(self, host: PolicyHost, call: PolicyCall) -> None:
        return None

    def before_resume(self, host: PolicyHost, call: PolicyCall) -> None:
        for other in _focused(_others(host, call)):
            host.suspend(other)

    def preview(self, host: PolicyHost, call: PolicyCall) -> AudioPreview:
        return AudioPreview(joins_suspended=bool(_focused(_others(host, call))))


@register
class Manual(AudioPolicy):
    """Nothing automatic: every joined call holds the devices until the user suspends it."""

    kind = MultiCallAudioPolicy.MANUAL

    def on_set_active(self, host: PolicyHost, call: PolicyCall) -> None:
        host.focus(call)

    def on_remove_active(self, host: PolicyHost, call: PolicyCall) -> None:
        return None

    def before_resume(self, host: PolicyHost, call: PolicyCall) -> None:
        return None

    def preview(self, host: PolicyHost, call: PolicyCall) -> AudioPreview:
        return AudioPreview(shares_with=tuple(_focused(_others(host, call))))


@register
class DuckExisting(AudioPolicy):
    """The newest call gets the mic and full volume; earlier calls stay audible, ducked."""

    kind = MultiCallAudioPolicy.DUCK_EXISTING
    background_mode = AudioMode.DUCKED

    def on_set_active(self, host: PolicyHost, call: PolicyCall) -> None:
        for other in _focused(_others(host, call)):
            host.duck(other)
        host.focus(call)

    def on_remove_active(self, host: PolicyHost, call: PolicyCall) -> None:
        _resume_most_recent(host)

    def before_resume(self, host: PolicyHost, call: PolicyCall) -> None:
        for other in _focused(_others(host, call)):
            host.duck(other)

    def preview(self, host: PolicyHost, call: PolicyCall) -> AudioPreview:
        return AudioPreview(ducks=tuple(_focused(_others(host, call))))
