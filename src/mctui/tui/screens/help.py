"""Help: the keys (generated from the live bindings, so a remapping shows) and the policies."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def help_text(keys: Sequence[tuple[str, str]], duck_gain_db: float) -> str:
    """``keys``: (key as displayed, what it does), one per action."""
    width = max((len(key) for key, _ in keys), default=4) + 3
    lines = ["[b]Keys[/]"]
    lines += [f"  {escape(key).ljust(width)}{escape(what)}" for key, what in keys]
    lines += [
        "  " + "Ctrl+P".ljust(width) + "command palette",
        "",
        "[b]Policies[/]",
        "  suspend-existing   the newest room gets the audio; the previous resumes when it leaves",
        "  suspend-incoming   the first room keeps the audio; later joins wait, suspended",
        "  manual             nothing automatic: unsuspended rooms share mic and speaker",
        f"  duck-existing      background rooms stay audible {abs(duck_gain_db):g} dB quieter "
        "and never get the mic",
        "",
        "Focusing a room opens its mic, unless you muted it there by hand.",
        "Suspended rooms still show who is talking (dim meters).",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(self._text, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
