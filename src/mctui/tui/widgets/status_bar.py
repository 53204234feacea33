"""The status line: policy, who holds the mic and the speaker, connection, notices."""

from __future__ import annotations

from textual.widgets import Static

from mctui.engine import Client


def policy_label(client: Client) -> str:
    return client.multi_call_audio_policy.value.replace("_", "-")


class StatusBar(Static):
    def show(self, client: Client | None, notice: str | None = None) -> None:
        if client is None:
            self.update(" connecting…")
            return
        calls = client.state.active_calls
        mic = ", ".join(c.id for c in calls if c.state.holds_microphone) or "none"
        speaker = ", ".join(c.id for c in calls if c.state.holds_speaker) or "none"
        connection = client.state.connection.value
        dot = "[green]●[/]" if connection == "connected" else "[red]●[/]"
        mode = "" if client.options.allow_multiple_active_calls else "  [b]single-call[/]"
        text = (
            f" policy [b]{policy_label(client)}[/]{mode}  │  mic [b]{mic}[/]  │  "
            f"speaker [b]{speaker}[/]  │  {dot} {connection}"
        )
        if notice:
            text += f"  │  [yellow]{notice}[/]"
        self.update(text)
