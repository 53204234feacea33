"""The config file and key remapping."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mctui.config import ConfigError, load_config
from mctui.tui.keymap import build_bindings


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config()
    assert config.audio.backend == "auto" and config.keys == {}


def test_keys_and_audio_from_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[audio]\nbackend = "null"\ninput_device = 2\n[keys]\nmute = "space"\n')
    config = load_config(path)
    assert config.audio.backend == "null" and config.audio.input_device == 2
    bindings = {b.action: b.key for b in build_bindings(config.keys)}
    assert bindings["mute"] == "space"
    assert bindings["suspend"] == "s"  # the others keep their defaults
    assert bindings["room_index(0)"] == "1"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[audio\n", "Expected"),
        ('[audio]\nbackend = "speakers"\n', "audio.backend"),
        ("[keys]\nmute = 3\n", "keys.mute"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "config.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown action in \\[keys\\]: fly"):
        build_bindings({"fly": "f"})


def test_cli_bad_config_one_line_exit_2(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[audio]\nbackend = "speakers"\n')
    result = subprocess.run(
        [sys.executable, "-m", "mctui", "join", "alpha", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "audio.backend" in result.stderr


async def test_command_palette_has_every_action():
    from mctui.tui.app import MctuiApp

    async def connect():  # type: ignore[no-untyped-def]
        from mctui.errors import ServerUnreachableError

        raise ServerUnreachableError("no server in this test")

    app = MctuiApp(connect, [])
    async with app.run_test(size=(100, 30)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
    expected = [
        "Next room", "Mute / unmute", "Suspend / resume", "Join a room", "Leave room",
        "Accept call", "Reject call", "Cycle policy", "Keys and policies", "Quit mctui",
    ]  # fmt: skip
    assert [t for t in expected if t not in titles] == []
