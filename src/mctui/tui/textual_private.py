"""The one touch of Textual's private parts: writing an escape sequence to the terminal.

Textual has no public way to send the terminal a sequence of one's own; its own ``bell`` and
``copy_to_clipboard`` write through the app's driver, between frames. The ring's desktop
notification (``tui.notify``) goes the same way. Checked at import like the media hooks
(``mctui.private_names``).
"""

from __future__ import annotations

from textual.app import App

from mctui.private_names import PrivateName, check

PRIVATE_NAMES = (PrivateName(App, "_driver", "textual_private", "instance"),)
check(PRIVATE_NAMES)


def write_to_terminal(app: App[object], sequence: str) -> bool:
    """Send ``sequence`` to the terminal between frames; False when there is none (headless)."""
    driver = app._driver
    if driver is None or app.is_headless or not sequence:
        return False
    driver.write(sequence)
    return True
