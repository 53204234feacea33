"""Help: the keys and what each multicall policy does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]Keys[/]
  Tab / Shift+Tab, 1-9   move the focus (mic + speaker) to another room
  m                      mute / unmute your mic in the focused room
  s                      suspend / resume the focused room by hand
  j / l                  join a room / leave the focused room
  a / r                  accept / reject an incoming call
  p                      cycle the multicall policy
  Ctrl+P                 command palette       q   quit (leaves every room)

[b]Policies[/]
  suspend-existing   the newest room gets the audio; the previous one resumes when it leaves
  suspend-incoming   the first room keeps the audio; later joins wait, suspended
  manual             nothing automatic: unsuspended rooms share mic and speaker
  duck-existing      background rooms stay audible 18 dB quieter and never get the mic
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close"),
        Binding("q", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(HELP)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)
