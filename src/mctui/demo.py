"""``mctui demo``: the embedded server, speaking bots and you, with no set-up.

The server and the bots run in one child process (so the UI's loop only carries your own calls);
the parent starts it, reads the URL it prints, opens the TUI (or headless mode), and on exit stops
the child by its PID. The child also exits by itself if the parent goes away (its stdin closes).

Scenarios:

- ``multicall`` (the split-room sample): SUSPEND_INCOMING; rooms alpha and bravo, two speaking
  bots each; you join both, alpha in the foreground; Tab switches.
- ``livestream`` (livestream with a call): SUSPEND_EXISTING; you watch a livestream whose host
  plays music (a 440 Hz tone); after a few seconds a friend rings you for a 1:1; accepting suspends
  the livestream; when the friend hangs up, the livestream resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mctui.bots import Bot, speech_like, tone
from mctui.engine import CallType, User
from mctui.errors import MctuiError
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.tokens import issue_token
from mctui.shutdown import stop_on_signals

YOU = "you"
SCENARIOS = ("multicall", "livestream")


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: str
    rooms: list[str]


def scenario(name: str) -> Scenario:
    if name == "multicall":
        return Scenario(name, "suspend_incoming", ["alpha", "bravo"])
    if name == "livestream":
        return Scenario(name, "suspend_existing", ["livestream:show"])
    raise ValueError(f"unknown scenario {name!r}: choose {' or '.join(SCENARIOS)}")


# --- the child: server and bots -----------------------------------------------------------------


async def _friend_rings(url: str, secret: str, ring_after: float, call_seconds: float) -> None:
    """The 1:1: ring you, talk for a while once you accept, then hang up (ring again if missed)."""
    friend = Bot(
        url, User("friend", "Friend"), issue_token(secret, "friend"), speech_like(seed=7),
        room="one-to-one",
    )  # fmt: skip
    await friend.client.connect()
    await asyncio.sleep(ring_after)
    while True:
        call = friend.client.make_call(CallType.DEFAULT, "one-to-one")
        await call.ring([YOU])
        async with asyncio.timeout(None):
            answer = await call.state.observe("ring_responses").wait_for(lambda r: YOU in r)
        if answer[YOU] == "accepted":
            await asyncio.sleep(call_seconds)
            await call.end()
            return
        await call.leave()
        await asyncio.sleep(30)


async def run_backend(name: str, ring_after: float, call_seconds: float) -> None:
    """Child process: start the server and the scenario's bots, print the URL, wait."""
    scenario(name)  # an unknown scenario fails here, before anything starts
    secret = secrets.token_urlsafe(32)
    server = await start_server(secret, "127.0.0.1", 0, sfu=EmbeddedSfu())
    bots: list[Bot] = []
    tasks: list[asyncio.Task[None]] = []

    def bot(user: str, signal_data: object, room: str, kind: CallType = CallType.DEFAULT) -> Bot:
        made = Bot(
            server.url, User(user, user.title()), issue_token(secret, user), signal_data,  # type: ignore[arg-type]
            room=room, call_type=kind,
        )  # fmt: skip
        bots.append(made)
        return made

    if name == "multicall":
        bot("ana", speech_like(seed=1), "alpha")
        bot("ben", speech_like(seed=2), "alpha")
        bot("cara", speech_like(seed=3), "bravo")
        bot("dev", speech_like(seed=4), "bravo")
    else:
        bot("host", tone(440, 0.4), "show", CallType.LIVESTREAM)
    for each in bots:
        await each.start()
    if name == "livestream":
        tasks.append(
            asyncio.create_task(_friend_rings(server.url, secret, ring_after, call_seconds))
        )
    print(f"READY {server.url} {issue_token(secret, YOU, 'You', 12 * 3600)}", flush=True)

    stop = stop_on_signals()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(0, 1024) else None)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(sys.stdin.fileno())
        for task in tasks:
            task.cancel()
        for each in bots:
            with contextlib.suppress(Exception):
                await each.stop()
        await server.stop()


# --- the parent: start the child, then you --------------------------------------------------------


class DemoBackendError(MctuiError):
    """The demo's server and bots (a child process) could not start."""


class DemoBackendProcess:
    """The child process, stopped by its PID however the demo ends (loop-independent)."""

    def __init__(
        self, name: str, ring_after: float, call_seconds: float, log_path: Path | None = None
    ) -> None:
        self.args = [
            sys.executable, "-m", "mctui", "demo-backend", name,
            "--ring-after", str(ring_after), "--call-seconds", str(call_seconds),
        ]  # fmt: skip
        if log_path is not None:
            self.args += ["--log-file", str(log_path)]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> tuple[str, str]:
        """Start the child and wait (off the loop) for its READY line: (url, your token)."""
        # The child's stderr (a traceback, say) goes to the log file, never to the screen.
        stderr: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = open(self.log_path, "ab")  # noqa: SIM115, ASYNC230 - handed to the child
        try:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; waits are off-loop
                self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        finally:
            if not isinstance(stderr, int):
                stderr.close()
        stdout = self.proc.stdout
        assert stdout is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(60):
                while True:
                    line = (await loop.run_in_executor(None, stdout.readline)).decode()
                    if not line:
                        break
                    if line.startswith("READY "):
                        _, url, token = line.split()
                        return url, token
        except TimeoutError:
            pass
        code = self.proc.poll()
        why = f"it exited with code {code}" if code is not None else "it did not answer in 60 s"
        self.stop()
        raise DemoBackendError(f"the demo server did not start: {why}{self._last_log_line()}")

    def _last_log_line(self) -> str:
        if self.log_path is None:
            return ""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return f" ({lines[-1].strip()})" if lines else ""

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
