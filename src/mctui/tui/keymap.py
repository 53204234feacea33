"""Key bindings: the defaults, overridable per action from the config file's ``[keys]`` table."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class KeyAction:
    action: str
    key: str
    description: str
    show: bool = True


DEFAULT_KEYS: tuple[KeyAction, ...] = (
    KeyAction("room_next", "tab", "Next room"),
    KeyAction("room_previous", "shift+tab", "Prev room", show=False),
    KeyAction("mute", "m", "Mute"),
    KeyAction("suspend", "s", "Suspend"),
    KeyAction("join", "j", "Join"),
    KeyAction("leave", "l", "Leave"),
    KeyAction("accept", "a", "Accept", show=False),
    KeyAction("reject", "r", "Reject", show=False),
    KeyAction("cycle_policy", "p", "Policy"),
    KeyAction("help", "question_mark", "Help"),
    KeyAction("quit", "q", "Quit"),
)
ACTIONS = frozenset(k.action for k in DEFAULT_KEYS)


def build_bindings(overrides: dict[str, str] | None = None) -> list[Binding]:
    """Bindings for the app: defaults with ``overrides`` (action -> key) applied, plus 1-9."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - ACTIONS)
    if unknown:
        raise ValueError(
            f"unknown action in [keys]: {unknown[0]} (known: {', '.join(sorted(ACTIONS))})"
        )
    bindings = [
        Binding(overrides.get(k.action, k.key), k.action, k.description, show=k.show, priority=True)
        for k in DEFAULT_KEYS
    ]
    bindings += [
        Binding(str(n), f"room_index({n - 1})", f"Room {n}", show=False) for n in range(1, 10)
    ]
    return bindings
