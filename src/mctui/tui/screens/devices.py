"""The device dialog (**d**): the microphones and speakers a freshly started PortAudio sees
(so a headset plugged in mid-call is there), the ones in use marked; Enter moves to the
highlighted one without leaving any room (``client.audio.set_devices``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from mctui.display import fit_cells

#: What the dialog answers: ("input" | "output", the device's name).
DeviceChoice = tuple[str, str]


def device_label(device: dict[str, Any], kind: str, in_use: bool) -> Text:
    label = Text("● " if in_use else "  ", style="green" if in_use else "")
    label.append(fit_cells(str(device.get("name", "?")), 40).ljust(40), style="bold")
    label.append(f" {device.get(f'max_{kind}_channels', 0)} ch", style="dim")
    return label


class DeviceScreen(ModalScreen[DeviceChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("d", "cancel", "Close", show=False)]

    def __init__(self, devices: list[dict[str, Any]], in_use: dict[str, str | None]) -> None:
        super().__init__()
        self.devices = devices
        self.in_use = in_use

    def compose(self) -> ComposeResult:
        with Vertical(id="device-dialog"):
            yield Static("[b]Audio devices[/]  [dim]Enter: use it · Tab: the other list[/]")
            for kind, title in (("input", "Microphone"), ("output", "Speaker")):
                yield Static(title, classes="device-kind")
                yield OptionList(*self._options(kind), id=f"devices-{kind}")
            if not self.devices:
                yield Static("No audio device found (mctui devices says why).")

    def _options(self, kind: str) -> list[Option]:
        current = (self.in_use.get(kind) or "").lower()
        usable = [d for d in self.devices if int(d.get(f"max_{kind}_channels", 0)) > 0]
        return [
            Option(
                device_label(d, kind, bool(current) and current in str(d["name"]).lower()),
                id=f"{kind}:{d['name']}",
            )
            for d in usable
        ]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        kind, _, name = str(event.option.id).partition(":")
        self.dismiss((kind, name))

    def action_cancel(self) -> None:
        self.dismiss(None)
