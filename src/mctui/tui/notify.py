"""A desktop notification through the terminal when a call rings (OSC 777 or OSC 9).

Terminals that turn an escape sequence into a desktop notification speak one of two dialects:
OSC 777 (``ESC ] 777 ; notify ; TITLE ; BODY BEL``: foot, urxvt, ghostty, WezTerm) and OSC 9
(``ESC ] 9 ; BODY BEL``: iTerm2, Windows Terminal, kitty, ConEmu). The terminal is recognised
from its environment; an unknown one gets nothing (some would print the sequence). The text
comes from other people (a caller's display name), so every control character is removed and
``;`` cannot end a field early: a name cannot rewrite the terminal.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping

OSC_777_TERMS = ("foot", "rxvt-unicode", "xterm-ghostty")
OSC_777_PROGRAMS = ("ghostty", "WezTerm")
OSC_9_PROGRAMS = ("iTerm.app",)
MAX_CHARS = 120


def clean(text: str) -> str:
    """``text`` without control characters (C0, C1, and the other ``C*`` categories), with
    ``;`` made harmless, and at most ``MAX_CHARS`` long."""
    kept = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    return kept.replace(";", ",")[:MAX_CHARS]


def dialect(env: Mapping[str, str]) -> str | None:
    """``777``, ``9`` or None (unknown terminal: send nothing)."""
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if term.startswith(OSC_777_TERMS) or program in OSC_777_PROGRAMS:
        return "777"
    if program in OSC_9_PROGRAMS or "WT_SESSION" in env or "KITTY_WINDOW_ID" in env:
        return "9"
    if env.get("ConEmuANSI") == "ON":
        return "9"
    return None


def notification(title: str, body: str, env: Mapping[str, str] | None = None) -> str:
    """The escape sequence that shows ``title``/``body`` in this terminal, or ``""``."""
    kind = dialect(os.environ if env is None else env)
    if kind == "777":
        return f"\x1b]777;notify;{clean(title)};{clean(body)}\x07"
    if kind == "9":
        return f"\x1b]9;{clean(title)}: {clean(body)}\x07"
    return ""
