"""The status line: who holds the mic and the speaker first (what a user must never miss), then
the policy, the audio profile and whether its echo canceller runs, and the connection, then a
short hint (a key that did nothing, where the log is)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from mctui.engine import Client


def policy_label(client: Client) -> str:
    return client.multi_call_audio_policy.value.replace("_", "-")


def status_text(client: Client | None, hint: str | None = None) -> str:
    tail = f"  │  [yellow]{escape(hint)}[/]" if hint else ""
    if client is None:
        return " connecting…" + tail
    calls = client.state.active_calls
    live = [c.id for c in calls if c.state.is_capturing]
    held = [c.id for c in calls if c.state.holds_microphone]
    mic = ", ".join(live) if live else (f"muted in {', '.join(held)}" if held else "off")
    speaker = ", ".join(c.id for c in calls if c.state.holds_speaker) or "none"
    connection = client.state.connection.value
    if connection == "reconnecting":
        connection = f"reconnecting… (attempt {client.state.reconnect_attempt})"
    dot = "[green]●[/]" if connection == "connected" else "[red]●[/]"
    mode = " single-call" if not client.options.allow_multiple_active_calls else ""
    return (
        f" mic [b]{escape(mic)}[/] │ speaker [b]{escape(speaker)}[/] │ "
        f"{policy_label(client)}{mode} │ {client.voice_label} │ {dot} {connection}{tail}"
    )


class StatusBar(Static):
    """One line of fixed height: a new text repaints it, never lays the screen out."""

    _shown: str | None = None

    def show(self, client: Client | None, hint: str | None = None) -> None:
        text = status_text(client, hint)
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)
