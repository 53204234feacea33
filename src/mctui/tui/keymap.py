"""Key bindings by id: the defaults, remapped through Textual's own keymap (``App.set_keymap``).

Each action has one binding id (the ``[keys]`` table of the config file uses these ids), so the
footer, the help screen and the command palette follow a remapping and never list one twice.
"""

from __future__ import annotations

from textual.binding import Binding

from mctui.tui.actions import DEFAULT_KEYS, ROOM_KEYS, room_binding_id


def build_bindings() -> list[Binding]:
    """The rooms screen's bindings, plus 1-9, each with its id."""
    bindings = [
        Binding(k.key, k.id, k.description, show=k.show, id=k.id, tooltip=k.help)
        for k in DEFAULT_KEYS
    ]
    bindings += [
        Binding(
            str(n),
            f"room_index({n - 1})",
            f"Room {n}",
            show=False,
            id=room_binding_id(n),
        )
        for n in range(1, ROOM_KEYS + 1)
    ]
    return bindings
