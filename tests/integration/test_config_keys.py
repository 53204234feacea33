"""The config file (one pydantic model: typos are errors naming their line) and key remapping
through Textual's keymap (the footer, help and palette follow it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from mctui import Client, ClientOptions, User
from mctui.config import ConfigError, load_config
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.screens.help import HelpScreen
from testbed import SECRET


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MCTUI_CONFIG", raising=False)
    config = load_config()
    assert config.audio.backend == "auto" and config.keys == {}


def test_keys_and_audio_from_the_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[audio]\nbackend = "null"\ninput_device = 2\n[keys]\nmute = "space"\n')
    config = load_config(path)
    assert config.audio.backend == "null" and config.audio.input_device == 2
    assert config.keys == {"mute": "space"}


def test_mctui_config_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[audio]\nbackend = "null"\n')
    monkeypatch.setenv("MCTUI_CONFIG", str(path))
    assert load_config().path == path
    monkeypatch.setenv("MCTUI_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config()


def test_swapping_two_keys_is_no_conflict(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\nmute = "s"\nsuspend = "m"\n')
    assert load_config(path).keys == {"mute": "s", "suspend": "m"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[audio\n", "Expected"),
        ('[audio]\nbackend = "speakers"\n', ":2: audio.backend"),
        ('[audoi]\nbackend = "null"\n', ":1: unknown table \\[audoi\\]"),
        ('[audio]\n\ninputdevice = "USB"\n', ":3: unknown setting audio.inputdevice"),
        ('[keys]\nmute = "spcae"\n', ":2: \\[keys\\] mute = 'spcae' is not a key name"),
        ('[keys]\nfly = "f"\n', ":2: \\[keys\\] unknown action 'fly'"),
        ("[rooms.fire]\n\npan = 3\n", ":3: rooms.fire.pan"),
        ('[rooms."livestream:show"]\npan = -4\n', ":2: rooms.livestream:show.pan"),
        ("[recording]\ndri = 1\n", ":2: unknown setting recording.dri"),
        # quit would silently lose its key: both ids named
        ('[keys]\nhelp = "h"\nmute = "q"\n', ':3: \\[keys\\] "q" is bound twice: mute and quit'),
        ('[keys]\njoin = "x"\nleave = "x"\n', ':3: \\[keys\\] "x" is bound twice: leave and join'),
        ("[keys]\nmute = 3\n", "keys.mute"),
        ('[log]\nlevel = "loud"\n', ":2: log.level"),
        ("[server]\nmax_connections = 0\n", ":2: server.max_connections"),
        ("[server]\n\nmax_conections = 5\n", ":3: unknown setting server.max_conections"),
    ],
)
def test_bad_config_is_a_clear_error_naming_the_line(tmp_path, content, words):
    path = tmp_path / "config.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_cli_bad_config_one_line_exit_2(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[audio]\nbackend = "speakers"\n')
    for command in (["join", "alpha"], ["token", "bob", "--secret", SECRET], ["devices"]):
        result = subprocess.run(
            [sys.executable, "-m", "mctui", *command, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        )
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1 and "audio.backend" in result.stderr


def remapped_app(server, keymap):  # type: ignore[no-untyped-def]
    ready = asyncio.Event()
    client = Client(
        server.url, User("me"), issue_token(SECRET, "me"), ClientOptions(audio_device="null")
    )

    async def connect() -> Client:
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    return MctuiApp(connect, ["alpha", "bravo"], keymap=keymap, on_ready=on_ready), client, ready


async def test_real_app_with_a_remapped_config_obeys_the_new_key(server, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\nmute = "x"\nroom_next = "n"\nhelp = "f1"\n')
    app, client, ready = remapped_app(server, load_config(path).keys)
    async with app.run_test(size=(100, 30)) as pilot:
        async with asyncio.timeout(10):
            await ready.wait()
        alpha = client.state.active_calls[0]
        await pilot.press("m")  # the old key does nothing now
        await pilot.pause()
        assert alpha.state.microphone_enabled
        await pilot.press("x")
        await pilot.pause()
        assert not alpha.state.microphone_enabled
        await pilot.press("n")
        await pilot.pause()
        assert client.state.focused_call is client.state.active_calls[1]
        # help and palette follow the keymap
        table = dict(app.key_table())
        assert "x" in [k for k, what in table.items() if "Mute" in what]
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "  x " in text and "f1" in text.lower()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")


async def test_command_palette_lists_each_action_once(server):
    app, client, ready = remapped_app(server, None)
    async with app.run_test(size=(100, 30)) as pilot:
        async with asyncio.timeout(10):
            await ready.wait()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("q")
    assert len(titles) == len(set(titles)), titles
    for title in ("Next room", "Mute", "Suspend", "Join", "Leave", "Accept", "Reject", "Policy"):
        assert title in titles
    assert titles.count("Quit") == 1 and "Keys" not in titles


def test_the_server_table_is_the_servers_own_limits(tmp_path):
    from mctui.server.limits import ServerLimits

    path = tmp_path / "config.toml"
    path.write_text("[server]\nmax_connections_per_user = 3\nmessages_per_second = 7.5\n")
    limits = load_config(path).server
    assert isinstance(limits, ServerLimits)
    assert limits == ServerLimits(max_connections_per_user=3, messages_per_second=7.5)


def test_the_readmes_config_examples_load(tmp_path):
    """Every TOML block of the README that is a config file loads as written (a key bound twice,
    an unknown table or a typo in the docs would fail here)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    configs = [b for b in blocks if re.match(r"\s*\[(keys|audio|rooms|recording|log)\b", b)]
    assert len(configs) >= 2
    for number, block in enumerate(configs):
        path = tmp_path / f"example{number}.toml"
        path.write_text(block)
        load_config(path)
    rooms = load_config(tmp_path / f"example{len(configs) - 1}.toml")
    assert rooms.rooms["fire"].pan == -0.7 and rooms.recording.dir == Path("~/calls").expanduser()
