"""The command line: serve / token, one-line errors with exit code 2."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from mctui import CallType, Client, User
from mctui.server.tokens import verify_token

SECRET = "cli-test-secret-0123456789abcdefghijkl"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mctui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


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
