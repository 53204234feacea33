"""The command line: serve / token, one-line errors with exit code 2."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from mctui import CallType, Client, User
from mctui.server.tokens import verify_token

SECRET = "cli-test-secret-0123456789abcdefghijkl"


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mctui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mctui: error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_token_prints_a_verifiable_token_on_its_last_line():
    result = run_cli("token", "alice", "--name", "Alice", "--ttl", "15m", "--secret", SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    user_id, name, _expires = verify_token(SECRET, token)
    assert (user_id, name) == ("alice", "Alice")


def test_token_secret_file_and_default_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    result = run_cli("token", "bob", "--secret-file", str(secret_file))
    assert verify_token(SECRET, result.stdout.strip())[0] == "bob"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "MCTUI_SECRET": ""}
    first = run_cli("token", "carol", env=env)
    stored = (tmp_path / "cfg" / "mctui" / "secret").read_text().strip()
    assert verify_token(stored, first.stdout.strip())[0] == "carol"
    assert oct((tmp_path / "cfg" / "mctui" / "secret").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "args",
    [
        ("token",),
        ("token", "alice", "--ttl", "soon"),
        ("serve", "--port", "seventy"),
        ("serve", "--port", "99999"),
        ("serve", "--sfu", "warp"),
        ("token", "alice", "--secret-file", "/nonexistent/secret"),
        ("frobnicate",),
        ("join", "a b"),
        ("join", "ünïcode"),
        ("join", "x" * 500),
        ("join", "warp:alpha"),
        ("join", "alpha", "--server", "127.0.0.1:8470"),
        ("join", "alpha", "--policy", "loudest"),
        ("join", "alpha", "--audio-backend", "speakers"),
        ("bot", "a b", "--tone", "440"),
        ("token", "a b", "--secret", SECRET),
        ("token", "x" * 200, "--secret", SECRET),
        ("token", "alice", "--ttl", "100000d", "--secret", SECRET),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mctui: error:"), result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_prints_url_serves_and_stops_cleanly_on_ctrl_c():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mctui",
        "serve",
        "--port",
        "0",
        "--secret",
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        token = run_cli("token", "alice", "--secret", SECRET).stdout.strip()
        client = Client(url, User("alice"), token)
        await client.connect()
        call = client.make_call(CallType.DEFAULT, "cli-room")
        await call.get_or_create()
        await client.disconnect()
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert b"stopped" in rest and b"Traceback" not in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_version_and_short_help():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip().startswith("mctui ")
    result = run_cli("join", "-h", env={"COLUMNS": "200"})
    assert result.returncode == 0
    for choice in ("suspend-existing", "duck-existing", "broadcaster", "sounddevice"):
        assert choice in result.stdout  # enum choices are listed
    assert "--install-completion" in run_cli("-h").stdout


@pytest.mark.slow
def test_unreachable_server_is_retried_then_exits_1_with_one_line_naming_the_log(tmp_path):
    """No server at start: headless says each failed attempt while it retries with backoff,
    and gives up after --reconnect-timeout with the one-line error."""
    import time

    env = {"XDG_STATE_HOME": str(tmp_path)}
    started = time.monotonic()
    result = run_cli(
        "join", "alpha", "--server", "http://127.0.0.1:9", "--headless",
        "--audio-backend", "null", "--secret", SECRET, "--reconnect-timeout", "2", env=env,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    attempts = [json.loads(x) for x in result.stdout.splitlines() if '"connecting"' in x]
    numbers = [a["attempt"] for a in attempts]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers[-1] >= 3, result.stdout
    assert attempts[0]["reason"] is None  # the first attempt has nothing before it
    # nothing listens on port 9: refused, and said so (it read "no answer")
    assert "cannot reach the server" in attempts[1]["reason"]
    assert all("refused" in a["reason"] for a in attempts[2:]), attempts
    assert 2.0 <= elapsed < 15
    line = one_error_line(result)
    assert "cannot reach the server" in line and "details in" in line
    log_file = line.rsplit("details in ", 1)[1].rstrip(")")
    with open(log_file) as log:
        assert "cannot reach the server" in log.read()
    # at debug level the log holds the cause too, with its traceback: more than the line
    debug = run_cli(
        "join", "alpha", "--server", "http://127.0.0.1:9", "--headless", "--log-level", "debug",
        "--audio-backend", "null", "--secret", SECRET, "--reconnect-timeout", "1", env=env,
    )  # fmt: skip
    with open(log_file) as log:
        text = log.read()
    assert debug.returncode == 1 and "Traceback" in text and "ClientConnectorError" in text


async def test_bad_token_exits_1(server, tmp_path):
    result = await asyncio.to_thread(
        run_cli, "join", "alpha", "--server", server.url, "--token", "not-a-token",
        "--headless", "--audio-backend", "null", env={"XDG_STATE_HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "token" in one_error_line(result).lower()


def test_port_in_use_exits_1(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "serve", "--port", str(port), "--secret", SECRET, env={"XDG_STATE_HOME": str(tmp_path)}
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_server_that_never_answers_fails_within_10_s(tmp_path):
    """A listening socket nobody accepts on: TCP connects, the WebSocket upgrade never comes."""
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = run_cli(
            "join", "alpha", "--server", f"http://127.0.0.1:{port}", "--headless",
            "--audio-backend", "null", "--secret", SECRET, "--reconnect-timeout", "0",
            env={"XDG_STATE_HOME": str(tmp_path)}, timeout=40,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "within 10 s" in one_error_line(result)
    assert elapsed < 20, f"took {elapsed:.0f} s"


def test_the_cli_starts_without_the_media_stack():
    """The lazy package root: ``mctui --help`` and ``mctui token`` never import aiortc & co."""
    probe = (
        "import sys, mctui.cli\n"
        "heavy = ('aiortc', 'av', 'scipy', 'numpy', 'textual', 'aiohttp', 'sounddevice')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
    import mctui

    assert mctui.Client.__name__ == "Client"  # and the public names still resolve


async def test_a_refused_join_is_no_join_and_with_no_room_left_exits_1(server, tmp_path):
    """A token scoped to default:bravo asked to join alpha, with no --user (the token's user is
    taken, not "me"): headless says an error for alpha, never ``joined`` (or ``focus``,
    ``left``) for it, and exits 1 with one line."""
    from mctui.server.tokens import issue_token
    from testbed import SECRET as SERVER_SECRET

    token = issue_token(SERVER_SECRET, "scoped", call="default:bravo")
    result = await asyncio.to_thread(  # no --user: the token says who (scoped)
        run_cli, "join", "alpha", "--server", server.url, "--token", token,
        "--headless", "--audio-backend", "null", env={"XDG_STATE_HOME": str(tmp_path)},
    )  # fmt: skip
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "joined" not in names and "focus" not in names and "left" not in names, names
    assert any(e["event"] == "error" and e.get("room") == "alpha" for e in events), events
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no room could be joined" in line and "only join default:bravo" in line


async def test_headless_names_who_joins_a_guest_by_the_name_on_its_invite(server, tmp_path):
    """participant_joined carries the display name as well as the id: a guest is "Ada", not
    only guest-1a2b3c4d."""
    from mctui.server.tokens import issue_guest_token, issue_token
    from testbed import SECRET as SERVER_SECRET

    me = issue_token(SERVER_SECRET, "me")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", "join", "alpha", "--server", server.url, "--token", me,
        "--headless", "--audio-backend", "null", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    out = proc.stdout

    async def until(event: str) -> dict:
        async with asyncio.timeout(30):
            while True:
                line = json.loads(await out.readline())
                if line["event"] == event:
                    return line

    guest = None
    try:
        await until("ready")
        guest_id, token = issue_guest_token(SERVER_SECRET, "default:alpha", "Ada")
        guest = Client(server.url, User(guest_id), token)
        await guest.connect()
        await guest.make_call(CallType.DEFAULT, "alpha").join()
        joined = await until("participant_joined")
        assert (joined["participant"], joined["name"]) == (guest_id, "Ada")
    finally:
        if guest is not None:
            await guest.disconnect()
        proc.stdin.write(b"quit\n")
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 30)


@pytest.mark.slow
async def test_rooms_lists_the_running_rooms_as_text_and_json(server, make_client, tmp_path):
    from mctui.server.tokens import issue_token
    from testbed import SECRET as SERVER_SECRET

    for user in ("ann", "ben"):
        await (await make_client(user)).make_call(CallType.DEFAULT, "standup").join()
    me = issue_token(SERVER_SECRET, "me")
    env = {"XDG_STATE_HOME": str(tmp_path)}
    listed = await asyncio.to_thread(
        run_cli, "rooms", "--server", server.url, "--token", me, "--json", env=env
    )
    assert listed.returncode == 0, listed.stderr
    rooms = json.loads(listed.stdout)["rooms"]
    assert [(r["cid"], r["participant_count"], r["participants"]) for r in rooms] == [
        ("default:standup", 2, [])
    ]  # fmt: skip  (me is no member: a count, no names)
    text = await asyncio.to_thread(run_cli, "rooms", "--server", server.url, "--token", me,
                                   env=env)  # fmt: skip
    assert text.returncode == 0 and text.stdout.split()[:3] == ["default:standup", "2", "in"]
    gone = await asyncio.to_thread(run_cli, "rooms", "--server", "http://127.0.0.1:9",
                                   "--token", me, env=env)  # fmt: skip
    assert gone.returncode == 1 and "cannot reach the server" in one_error_line(gone)


@pytest.mark.parametrize("columns", ["80", "140"])
def test_help_shows_every_option_whole_at_any_width(columns):
    """At 80 columns Rich's boxes cut option names and choices ("<suspend-existin"): narrow
    terminals get plain help, which wraps instead; wide ones keep the boxes."""
    result = run_cli("join", "-h", env={"COLUMNS": columns})
    assert result.returncode == 0
    assert "…" not in result.stdout
    for whole in ("--audio-profile", "suspend-existing", "--reconnect-timeout"):
        assert whole in result.stdout, whole
    assert ("╭" in result.stdout) == (columns == "140")


def test_devices_says_what_cleans_the_mic_and_whether_the_echo_canceller_is_on(tmp_path):
    on = run_cli("devices", "--log-file", str(tmp_path / "log"))
    assert on.returncode == 0, on.stderr
    assert "WebRTC's APM (livekit " in on.stdout and "echo cancellation on" in on.stdout
    config = tmp_path / "config.toml"
    config.write_text('[audio]\necho_cancellation = "off"\n')
    off = run_cli("devices", "--config", str(config), "--log-file", str(tmp_path / "log"))
    assert "echo cancellation off" in off.stdout, off.stdout
    config.write_text('[audio]\necho_cancellation = "maybe"\n')
    bad = run_cli("devices", "--config", str(config), "--log-file", str(tmp_path / "log"))
    assert bad.returncode == 2 and "echo_cancellation" in one_error_line(bad)
    helped = run_cli("join", "--help", env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "--no-echo-cancellation" in helped.stdout  # a headset, from the command line
