"""The ring's desktop notification through the terminal: the right dialect per terminal, and
nothing a caller's name can smuggle into it."""

from __future__ import annotations

import pytest

from mctui.tui.notify import clean, notification


@pytest.mark.parametrize(
    ("env", "start"),
    [
        ({"TERM": "foot"}, "\x1b]777;notify;"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, "\x1b]777;notify;"),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, "\x1b]9;"),
        ({"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, "\x1b]9;"),
        ({"TERM": "xterm-256color", "WT_SESSION": "x"}, "\x1b]9;"),
    ],
)
def test_each_terminal_gets_its_dialect(env, start):
    sequence = notification("Ann is calling", "standup", env)
    assert sequence.startswith(start) and sequence.endswith("\x07")
    assert "Ann is calling" in sequence and "standup" in sequence


def test_an_unknown_terminal_gets_nothing():
    assert notification("Ann is calling", "standup", {"TERM": "xterm-256color"}) == ""
    assert notification("Ann is calling", "standup", {}) == ""


def test_a_hostile_name_cannot_end_the_sequence_or_add_one():
    evil = "Ann\x07\x1b]0;pwned\x07\x1b[2J;extra\x9b31m\u202e"
    sequence = notification(f"{evil} is calling", "room", {"TERM": "foot"})
    body = sequence[len("\x1b]777;notify;") : -1]
    assert "\x1b" not in body and "\x07" not in body and "\x9b" not in body
    assert "\u202e" not in body  # no bidi override either
    assert body.count(";") == 1  # title ; body, and no field of the attacker's
    assert clean("x" * 500) == "x" * 120


def test_the_sequence_goes_through_the_apps_driver_and_not_when_headless():
    from textual.app import App

    from mctui.tui.textual_private import write_to_terminal

    class Driver:
        def __init__(self, headless: bool) -> None:
            self.is_headless = headless
            self.written: list[str] = []

        def write(self, data: str) -> None:
            self.written.append(data)

    app: App[object] = App()
    sequence = notification("Ann is calling", "standup", {"TERM": "foot"})
    for headless, expected in ((False, [sequence]), (True, [])):
        driver = Driver(headless)
        app._driver = driver  # type: ignore[assignment]
        assert write_to_terminal(app, sequence) is (not headless)
        assert driver.written == expected
