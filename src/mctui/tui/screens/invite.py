"""The invite dialog: the focused room's guest link, to read, select or paste elsewhere.

The link is also sent to the terminal's clipboard with OSC 52 (Textual's ``copy_to_clipboard``);
terminals that do not allow it ignore the sequence, so the dialog always shows the whole link.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from mctui.engine import Invite


def describe_expiry(expires_at: float, now: float | None = None) -> str:
    """``expires_at`` as a person reads it: "in 2 h", "in 15 min"."""
    left = max(0.0, expires_at - (time.time() if now is None else now))
    if left >= 3600:
        hours = left / 3600
        return f"in {hours:.0f} h" if hours >= 1.95 or hours.is_integer() else f"in {hours:.1f} h"
    return f"in {max(1, round(left / 60))} min"


class InviteScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("i", "close", "Close", show=False),
        Binding("c", "copy", "Copy again"),
    ]

    def __init__(self, room: str, invite: Invite) -> None:
        super().__init__()
        self.room = room
        self.invite = invite

    def compose(self) -> ComposeResult:
        with Vertical(id="invite-dialog"):
            yield Static(f"[b]Invite someone to {escape(self.room)}[/]", id="invite-title")
            yield Static(
                "They open this link in a web browser: nothing to install. It works "
                f"{describe_expiry(self.invite.expires_at)} and only for this room.",
                id="invite-help",
            )
            yield Static(escape(self.invite.link), id="invite-link")
            yield Static(
                "[dim]Sent to your clipboard if your terminal allows it (OSC 52); else select "
                "the link. c: copy again · Esc: close[/]",
                id="invite-copied",
            )

    def on_mount(self) -> None:
        self.action_copy()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.invite.link)

    def action_close(self) -> None:
        self.dismiss(None)
