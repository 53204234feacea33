"""The incoming-ring modal: who is calling and what accepting will do under the current policy."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mctui.engine.policies import AudioPreview


def describe_preview(preview: AudioPreview) -> str:
    """A sentence for a person: "Accepting will suspend audio in: alpha, bravo"."""

    def names(calls: tuple[object, ...]) -> str:
        return ", ".join(getattr(c, "id", "?") for c in calls)

    if preview.leaves:
        return f"Accepting will leave: {names(preview.leaves)}"
    if preview.suspends:
        return f"Accepting will suspend audio in: {names(preview.suspends)}"
    if preview.ducks:
        return f"Accepting will duck (keep quieter, no mic): {names(preview.ducks)}"
    if preview.shares_with:
        return f"Accepting will share the mic and speaker with: {names(preview.shares_with)}"
    if preview.joins_suspended:
        return "Accepting will join in the background, suspended (your current room keeps audio)"
    return "Accepting will give this call the mic and speaker"


class RingScreen(ModalScreen[bool]):
    """Dismissed with True to accept, False to reject."""

    BINDINGS = [
        Binding("a", "answer(True)", "Accept"),
        Binding("r", "answer(False)", "Reject"),
        Binding("escape", "answer(False)", "Reject", show=False),
    ]

    def __init__(
        self,
        caller: str,
        room: str,
        consequence: str,
        expires_at: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.caller = caller
        self.room = room
        self.consequence = consequence
        self.expires_at = expires_at
        self._clock = clock
        self._countdown = Static(id="ring-countdown")

    def compose(self) -> ComposeResult:
        with Vertical(id="ring-dialog"):
            yield Static(Text.assemble((self.caller, "bold"), " is calling"), id="ring-title")
            yield Static(Text.assemble("room ", (self.room, "bold")), id="ring-room")
            yield Static(self.consequence, id="ring-consequence")
            yield self._countdown
            with Horizontal(id="ring-buttons"):
                yield Button("Accept (a)", variant="success", id="accept")
                yield Button("Reject (r)", variant="error", id="reject")

    def on_mount(self) -> None:
        self._tick()
        if self.expires_at is not None:
            self.set_interval(0.5, self._tick)

    def seconds_left(self) -> int | None:
        if self.expires_at is None:
            return None
        return max(0, math.ceil(self.expires_at - self._clock()))

    def _tick(self) -> None:
        left = self.seconds_left()
        self._countdown.update("" if left is None else f"missed in {left} s")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "accept")

    def action_answer(self, accept: bool) -> None:
        self.dismiss(accept)
