"""The TUI's remappable actions: binding id, default key, and the texts a person reads.

Kept free of Textual so the config file can be checked against these ids without importing it.
The footer, the help screen and the command palette are all generated from this table.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyAction:
    """One remappable action: binding id (= the app's ``action_<id>``), default key, texts."""

    id: str
    key: str
    description: str
    help: str
    show: bool = True


DEFAULT_KEYS: tuple[KeyAction, ...] = (
    KeyAction("room_next", "tab", "Next room", "Move mic and speaker to the next room"),
    KeyAction(
        "room_previous",
        "shift+tab",
        "Previous room",
        "Move mic and speaker to the previous room",
        show=False,
    ),
    KeyAction("mute", "m", "Mute", "Mute or unmute your mic in the focused room"),
    KeyAction("suspend", "s", "Suspend", "Suspend or resume the selected room by hand"),
    KeyAction("quit", "q", "Quit", "Leave every room and quit"),
    # the footer shows the keys in this order and cuts the last at 80 columns: help stays
    KeyAction("help", "question_mark", "Help", "Show the keys and what each policy does"),
    KeyAction("join", "j", "Join", "Join another room"),
    KeyAction("leave", "l", "Leave", "Leave the focused room"),
    KeyAction("invite", "i", "Invite", "Show a link that lets someone join the focused room"),
    KeyAction("accept", "a", "Accept", "Accept the incoming call", show=False),
    KeyAction("reject", "r", "Reject", "Reject the incoming call", show=False),
    KeyAction("cycle_policy", "p", "Policy", "Switch the multicall audio policy"),
    KeyAction("devices", "d", "Devices", "Choose the microphone and speaker", show=False),
    KeyAction(
        "transmit",
        "t",
        "Transmit",
        "Patch your mic into the selected room too, the focus where it is (again: stop)",
        show=False,
    ),
    KeyAction(
        "replay",
        "b",
        "Replay",
        "Replay the selected room's last 15 s, the live rooms ducked (again: stop)",
        show=False,
    ),
    KeyAction(
        "record",
        "w",
        "Record",
        "Record the selected room (what you hear, and your mic) to a file (again: stop)",
        show=False,
    ),
    KeyAction(
        "select_next",
        "right",
        "Select next",
        "Select the next room for t, b, w, s, + and - without moving the focus",
        show=False,
    ),
    KeyAction(
        "select_previous",
        "left",
        "Select previous",
        "Select the previous room without moving the focus",
        show=False,
    ),
    KeyAction(
        "volume_up",
        "plus,equals_sign",
        "Louder",
        "Selected room 3 dB louder (up to +12)",
        show=False,
    ),
    KeyAction(
        "volume_down",
        "minus",
        "Quieter",
        "Selected room 3 dB quieter (down to silent)",
        show=False,
    ),
)
ACTIONS = frozenset(k.id for k in DEFAULT_KEYS)
ROOM_KEYS = 9


def room_binding_id(number: int) -> str:
    return f"room_{number}"


KEYMAP_IDS = ACTIONS | {room_binding_id(n) for n in range(1, ROOM_KEYS + 1)}


_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(
    {"tab", "space", "enter", "escape", "backspace", "delete", "insert", "home", "end"}
    | {"pageup", "pagedown", "up", "down", "left", "right"}
    | {f"f{n}" for n in range(1, 25)}
)


def is_key_name(key: str) -> bool:
    """A Textual key string: modifiers joined by ``+`` and one key ("m", "ctrl+k",
    "question_mark", "f5"); several alternatives may be separated by commas."""
    for alternative in key.split(","):
        *modifiers, last = alternative.strip().lower().split("+")
        if any(m not in _MODIFIERS for m in modifiers) or not last:
            return False
        if len(last) == 1 or last in _NAMED_KEYS:
            continue
        try:  # Textual names printable keys by their Unicode name: question_mark, full_stop
            unicodedata.lookup(last.replace("_", " "))
        except KeyError:
            return False
    return True


def bound_twice(keymap: dict[str, str]) -> tuple[str, str, str] | None:
    """The first key that ``keymap`` (over the defaults) gives to two actions: (key, the
    action it is given to, the action that already had it); None if every key does one thing.
    Textual would let the later binding win, and the other action silently lose its key."""
    keys = {k.id: k.key for k in DEFAULT_KEYS}
    keys |= {room_binding_id(n): str(n) for n in range(1, ROOM_KEYS + 1)}
    keys |= keymap
    owner: dict[str, str] = {}
    # the defaults that stay first, then the user's: the user's entry is the one named first
    for binding_id in (*(i for i in keys if i not in keymap), *keymap):
        for key in keys[binding_id].split(","):
            key = key.strip()
            if key in owner and owner[key] != binding_id:
                return key, binding_id, owner[key]
            owner.setdefault(key, binding_id)
    return None


def check_keymap(keymap: dict[str, str]) -> None:
    """Raise ``ValueError`` naming the first unknown binding id or key name."""
    for binding_id, key in keymap.items():
        if binding_id not in KEYMAP_IDS:
            known = ", ".join(sorted(ACTIONS))
            raise ValueError(f"unknown action {binding_id!r} (known: {known}, room_1 ... room_9)")
        if not isinstance(key, str) or not is_key_name(key):
            raise ValueError(
                f'{binding_id} = {key!r} is not a key name (examples: "m", "ctrl+k", '
                '"space", "f5", "question_mark")'
            )
