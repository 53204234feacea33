"""The join dialog: the rooms running on the server (the room directory), filtered as you type,
or a new room's name, optionally prefixed with its type (``livestream:show``).

Enter joins the highlighted room of the list; a name that matches no running room is joined
(created) as typed. Down moves into the list, and a click or Enter there joins that room.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mctui.display import fit_cells
from mctui.protocol import RoomInfo


def room_label(room: RoomInfo) -> Text:
    """One line of the directory: the room, how many are in it, for how long, and who (to its
    members)."""
    name = room.id if room.type == "default" else room.cid
    minutes = int(room.running_s // 60)
    who = ", ".join(u.name or u.id for u in room.participants)
    label = Text(fit_cells(name, 28).ljust(28), style="bold")
    label.append(f" {room.participant_count:>3} in {minutes:>4} min  ")
    label.append(fit_cells(who, 24), style="dim")
    return label


class JoinScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "into_list", "Rooms", show=False),
    ]

    def __init__(self, rooms: Sequence[RoomInfo] = ()) -> None:
        super().__init__()
        self.rooms = list(rooms)

    def compose(self) -> ComposeResult:
        with Vertical(id="join-dialog"):
            yield Static("Join a room  [dim](type:name for livestream: or audio_room:)[/]")
            yield Input(placeholder="room name, or type to filter", id="join-input")
            yield OptionList(id="join-rooms")
            yield Static("", id="join-empty")

    def on_mount(self) -> None:
        self._show("")

    def _matching(self, text: str) -> list[RoomInfo]:
        needle = text.strip().lower()
        return [r for r in self.rooms if needle in r.cid.lower()]

    def _show(self, text: str) -> None:
        listed = self.query_one("#join-rooms", OptionList)
        listed.clear_options()
        matching = self._matching(text)
        listed.add_options([Option(room_label(r), id=r.cid) for r in matching])
        listed.display = bool(matching)
        if matching:
            listed.highlighted = 0
        note = "no other room is running: type a name to start one" if not self.rooms else ""
        if self.rooms and not matching:
            note = "no running room matches: Enter starts this one"
        self.query_one("#join-empty", Static).update(note)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        exact = [r for r in self.rooms if text in (r.id, r.cid)]
        matching = self._matching(text)
        listed = self.query_one("#join-rooms", OptionList)
        if exact:
            self.dismiss(exact[0].cid)
        elif matching and listed.highlighted is not None:
            self.dismiss(matching[listed.highlighted].cid)
        else:
            self.dismiss(text or None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_into_list(self) -> None:
        listed = self.query_one("#join-rooms", OptionList)
        if listed.display:
            listed.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
