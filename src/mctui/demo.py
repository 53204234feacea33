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
- ``console`` (a dispatcher's monitoring console): DUCK_EXISTING; four rooms whose bots talk in
  turns, one room at a time; dispatch in front, fire placed left and police right, the others
  placed around them; your mic patched into fire too (TX). Try ← → to select, b to replay what
  a room said, w to record it, t to patch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from mctui.bots import Bot, speech_like, tone
from mctui.bots.signals import Signal
from mctui.engine import CallType, Client, User
from mctui.errors import MctuiError
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.records import SfuBackend
from mctui.server.tokens import issue_token
from mctui.shutdown import stop_on_signals

YOU = "you"
SECRET_ENV = "MCTUI_DEMO_SECRET"
#: A backend that died is started again after this long (not in a tight loop if it keeps dying).
RESTART_AFTER_S = 1.0
SCENARIOS = ("multicall", "livestream", "console")
#: The console's rooms, and how long each talks in its turn.
CONSOLE_ROOMS = ("dispatch", "fire", "ems", "police")
TURN_S = 4.0


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: str
    rooms: list[str]
    #: Rooms you place in the stereo mix yourself (the others are placed automatically).
    pans: dict[str, float] = field(default_factory=dict)
    #: Rooms your mic is patched into once joined (besides the focused one).
    transmit: tuple[str, ...] = ()


def scenario(name: str) -> Scenario:
    if name == "multicall":
        return Scenario(name, "suspend_incoming", ["alpha", "bravo"])
    if name == "livestream":
        return Scenario(name, "suspend_existing", ["livestream:show"])
    if name == "console":
        return Scenario(
            name, "duck_existing", list(CONSOLE_ROOMS),
            pans={"fire": -0.7, "police": 0.7}, transmit=("fire",),
        )  # fmt: skip
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


def in_turn(turn: int, turns: int) -> Signal:
    """A voice that speaks for ``TURN_S`` in its ``turn`` of ``turns`` and is silent the rest
    (the bots' devices loop their signals: together they take turns, one room at a time)."""
    turn_samples = int(TURN_S * 48_000)
    out = np.zeros(turn_samples * turns, dtype=np.float32)
    out[turn * turn_samples : (turn + 1) * turn_samples] = speech_like(TURN_S, seed=10 + turn)
    return out


async def run_backend(
    name: str,
    ring_after: float,
    call_seconds: float,
    port: int = 0,
    sfu: SfuBackend | None = None,
) -> None:
    """Child process: start the server and the scenario's bots, print the URL, wait.

    The secret comes from ``MCTUI_DEMO_SECRET`` when the parent restarts a backend that died
    (same port, same secret: your token stays valid and your client reconnects by itself)."""
    scenario(name)  # an unknown scenario fails here, before anything starts
    secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)
    server = await start_server(secret, "127.0.0.1", port, sfu=sfu or EmbeddedSfu())
    bots: list[Bot] = []
    tasks: list[asyncio.Task[None]] = []

    def bot(user: str, signal_data: object, room: str, kind: CallType = CallType.DEFAULT) -> Bot:
        made = Bot(
            server.url, User(user, user.title()), issue_token(secret, user), signal_data,  # type: ignore[arg-type]
            room=room, call_type=kind,
        )  # fmt: skip
        bots.append(made)
        return made

    if name == "console":
        for turn, room in enumerate(CONSOLE_ROOMS):
            bot(f"{room}-voice", in_turn(turn, len(CONSOLE_ROOMS)), room)
    elif name == "multicall":
        bot("ana", speech_like(seed=1), "alpha")
        bot("ben", speech_like(seed=2), "alpha")
        bot("cara", speech_like(seed=3), "bravo")
        bot("dev", speech_like(seed=4), "bravo")
    else:
        bot("host", tone(440, 0.4), "show", CallType.LIVESTREAM)
    loop = asyncio.get_running_loop()
    watching_stdin = False
    try:  # a bot that cannot start (a Janus that is not there) stops everything started
        for each in bots:
            await each.start()
        if name == "livestream":
            tasks.append(
                asyncio.create_task(_friend_rings(server.url, secret, ring_after, call_seconds))
            )
        stop = stop_on_signals()  # before READY: a SIGTERM right after it stops cleanly
        print(f"READY {server.url} {issue_token(secret, YOU, 'You', 12 * 3600)}", flush=True)
        loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(0, 1024) else None)
        watching_stdin = True
        await stop.wait()
    finally:
        if watching_stdin:
            loop.remove_reader(sys.stdin.fileno())
        for task in tasks:
            task.cancel()
        for each in bots:
            with contextlib.suppress(Exception):
                await each.stop()
        await server.stop()


async def patch_rooms(client: Client, rooms: tuple[str, ...]) -> None:
    """The scenario's patches: your mic into ``rooms`` too, the focus where it is."""
    for call in client.state.active_calls:
        if call.id in rooms:
            with contextlib.suppress(MctuiError):
                await call.set_transmit(True)


# --- the parent: start the child, then you --------------------------------------------------------


class DemoBackendError(MctuiError):
    """The demo's server and bots (a child process) could not start."""


class DemoBackendProcess:
    """The child process, stopped by its PID however the demo ends (loop-independent).

    If the child dies while the demo runs (killed, crashed), a watchdog thread starts it again on
    the same port with the same secret, so the demo heals by itself: your client reconnects and
    rejoins, and the bots of the new backend join again.
    """

    def __init__(
        self,
        name: str,
        ring_after: float,
        call_seconds: float,
        log_path: Path | None = None,
        sfu_args: list[str] | None = None,
    ) -> None:
        self.args = [
            sys.executable, "-m", "mctui", "demo-backend", name,
            "--ring-after", str(ring_after), "--call-seconds", str(call_seconds),
            *(sfu_args or []),
        ]  # fmt: skip
        if log_path is not None:
            self.args += ["--log-file", str(log_path)]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._env = {**os.environ, SECRET_ENV: secrets.token_urlsafe(32)}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        # The child's stderr (a traceback, say) goes to the log file, never to the screen.
        stderr: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            return subprocess.Popen(
                [*self.args, "--port", str(port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=self._env,
            )  # fmt: skip
        finally:
            if not isinstance(stderr, int):
                stderr.close()

    @staticmethod
    def _ready_line(proc: subprocess.Popen[bytes]) -> tuple[str, str] | None:
        """Block until the child's READY line: (url, your token); None if it exited first."""
        assert proc.stdout is not None
        while line := proc.stdout.readline().decode():
            if line.startswith("READY "):
                _, url, token = line.split()
                return url, token
        return None

    async def start(self) -> tuple[str, str]:
        """Start the child and wait (off the loop) for its READY line: (url, your token)."""
        self.proc = self._spawn(0)
        loop = asyncio.get_running_loop()
        ready = None
        timed_out = False
        try:
            async with asyncio.timeout(60):
                ready = await loop.run_in_executor(None, self._ready_line, self.proc)
        except TimeoutError:
            timed_out = True
        if ready is not None:
            port = int(ready[0].rsplit(":", 1)[1])
            self._watchdog = threading.Thread(
                target=self._watch, args=(port,), name="demo-watchdog", daemon=True
            )
            self._watchdog.start()
            return ready
        code = None
        if not timed_out:
            # its stdout closed: the child is exiting, though it may not be reaped yet
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = await loop.run_in_executor(None, self.proc.wait, 10)
        if code is not None:
            why = f"it exited with code {code}"
        elif timed_out:
            why = "it did not answer in 60 s"
        else:
            why = "it closed its output and did not exit"
        self.stop()
        raise DemoBackendError(f"the demo server did not start: {why}{self._last_log_line()}")

    def _watch(self, port: int) -> None:
        """Start the child again whenever it dies before ``stop()``."""
        while (proc := self.proc) is not None:
            proc.wait()
            if self._stopping.wait(RESTART_AFTER_S):
                return
            with self._lock:  # never spawn after stop() has looked at self.proc
                if self._stopping.is_set():
                    return
                self._close_pipes(proc)
                self.proc = self._spawn(port)
                self.restarts += 1
            self._ready_line(self.proc)

    def _last_log_line(self) -> str:
        """What the child said last: its own one-line error if it gave one (the lines after it
        are shutdown noise), else the log's last line."""
        if self.log_path is None:
            return ""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        said = [line for line in lines if line.startswith("mctui: error: ")]
        if said:
            reason = said[-1].removeprefix("mctui: error: ").split(" (details in ")[0]
            return f" ({reason})"
        return f" ({lines[-1].strip()})" if lines else ""

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_pipes(proc)
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=15)

    @staticmethod
    def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
