"""Names other people chose, made safe to show in a terminal.

A display name comes from someone else's token (a participant, a caller, a guest's invite): it
must never reach the terminal as control sequences (``ESC [2J`` clears the screen, ``ESC ]2;``
retitles the window), split a row (``\\n``), reorder the text around it (bidi overrides) or push
a pane's border out. Every name the TUI and the headless events show goes through
``safe_name``; the server also refuses control characters in names at token and hello time
(``protocol.has_control_characters``), so this is the second line, for servers that do not.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len

from mctui.protocol import BIDI_CONTROLS

#: What stands for a control character: C0 as its Unicode control picture (U+2400 ...), DEL
#: as U+2421, C1 as the replacement character.
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20)} | {0x7F: "\u2421"}
ELLIPSIS = "…"


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def safe_name(text: str, max_cells: int = 32) -> str:
    """``text`` with controls made visible (``ESC`` -> ``␛``), bidi controls removed, other
    zero-width format characters (emoji joiners aside) kept, and cut to ``max_cells`` terminal
    cells with an ellipsis."""
    shown = []
    for ch in text:
        if ch in BIDI_CONTROLS:
            continue
        if _is_control(ch):
            shown.append(_PICTURES.get(ord(ch), "\ufffd"))
        else:
            shown.append(ch)
    return fit_cells("".join(shown), max_cells)


def fit_cells(text: str, max_cells: int) -> str:
    """``text`` cut to at most ``max_cells`` cells (wide characters count two), ending in an
    ellipsis when something was cut."""
    if cell_len(text) <= max_cells:
        return text
    out, used = [], 0
    for ch in text:
        width = cell_len(ch)
        if used + width > max_cells - 1:
            break
        out.append(ch)
        used += width
    return "".join(out) + ELLIPSIS
