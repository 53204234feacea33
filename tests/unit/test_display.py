"""Names other people chose, shown safely (``mctui.display``): each payload a hostile tester
used, as the terminal would receive it."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from mctui import User
from mctui.display import safe_name
from mctui.protocol import has_control_characters

PAYLOADS = {
    "clear screen": "Dave\x1b[2J\x1b[H",
    "retitle": "\x1b]2;PWNED\x07Eve",
    "newline": "Mal\nlory",
    "bidi and emoji": "\u202eevil\U0001f608\U0001f608\U0001f608\u202c" * 3,
    "C1 CSI": "x\x9b2Jy",
    "long": "A" * 100,
}


@pytest.mark.parametrize("name", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_shown_name_holds_no_control_and_fits_its_cells(name: str) -> None:
    shown = User("u", name).display_name
    assert not has_control_characters(shown)
    assert "\x1b" not in shown and "\n" not in shown and "\x07" not in shown
    assert cell_len(shown) <= 32


def test_controls_are_made_visible_not_silently_dropped() -> None:
    assert safe_name("Dave\x1b[2J") == "Dave␛[2J"
    assert safe_name("a\nb") == "a␊b"
    assert safe_name("x\x9by") == "x\ufffdy"
    assert safe_name("\u202eabc\u202c") == "abc"


def test_a_long_or_wide_name_is_cut_by_cells_with_an_ellipsis() -> None:
    assert safe_name("Alice") == "Alice"
    cut = safe_name("B" * 40, 10)
    assert cut == "B" * 9 + "…"
    wide = safe_name("\U0001f608" * 10, 9)  # two cells each
    assert cell_len(wide) <= 9 and wide.endswith("…")
    assert safe_name("é" * 32) == "é" * 32  # exactly 32 cells: nothing cut


def test_names_with_controls_are_refused_where_they_are_made() -> None:
    from mctui.protocol import CreateInviteRequest
    from mctui.server.tokens import issue_token

    for name in ("Dave\x1b[2J", "a\nb", "\u202eevil"):
        with pytest.raises(ValueError, match="control characters"):
            issue_token("s" * 32, "dave", name)
        with pytest.raises(ValueError, match="control characters"):
            CreateInviteRequest(id=1, cid="default:x", name=name)
    issue_token("s" * 32, "dave", "Dave 😈")  # emoji and spaces are names
