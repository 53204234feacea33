"""The demo scenarios and headless mode, run as a user would: ``mctui`` as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from mctui.audio.wav_backend import read_wav, write_wav
from mctui.bots.signals import tone
from mctui.server.tokens import issue_token
from procs import alive, children_of
from spectrum import band_level_db
from testbed import SECRET


def demo_end(process: Headless) -> float:
    return next(e["t"] for e in process.events if e["event"] == "bye")


class Headless:
    """A headless mctui process: read its events, send it commands."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict] = []

    @classmethod
    async def start(cls, *args: str, state_dir: Path | None = None) -> Headless:
        """``mctui ARGS``; with ``state_dir``, its state (room volumes) goes there."""
        env = {**os.environ, "XDG_STATE_HOME": str(state_dir)} if state_dir else None
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mctui", *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        return cls(proc)

    async def until(self, predicate, timeout: float = 30.0) -> dict:  # type: ignore[no-untyped-def]
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    assert self.proc.stderr is not None
                    error = (await self.proc.stderr.read()).decode()[-2000:]
                    raise AssertionError(f"mctui exited early: {error}")
                event = json.loads(line)
                self.events.append(event)
                if predicate(event):
                    return event

    async def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((command + "\n").encode())
        await self.proc.stdin.drain()

    async def quit(self) -> int:
        await self.send("quit")
        await self.until(lambda e: e["event"] == "bye")
        async with asyncio.timeout(30):
            return await self.proc.wait()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def names(self, *kinds: str) -> list[tuple[str, str]]:
        return [(e["event"], e.get("room", "")) for e in self.events if e["event"] in kinds]


def loud(room: str, floor: float = -40.0):  # type: ignore[no-untyped-def]
    """A level event of ``room`` that the user hears (suspended rooms report levels too)."""
    return lambda e: (
        e["event"] == "level" and e["room"] == room and e["dbfs"] > floor and e["heard"]
    )


async def test_multicall_demo_reaches_steady_state_and_leaves_nothing(tmp_path):
    demo = await Headless.start("demo", "multicall", "--headless", "--audio-backend", "null")
    try:
        await demo.until(lambda e: e["event"] == "ready")
        children = children_of(demo.proc.pid)
        assert children, "the demo backend process should be running"
        await demo.until(loud("alpha"))  # alpha is in the foreground and its bots talk
        assert demo.names("joined") == [("joined", "alpha"), ("joined", "bravo")]
        assert ("suspended", "bravo") in demo.names("suspended")  # SUSPEND_INCOMING
        await demo.send("focus bravo")
        await demo.until(lambda e: e["event"] == "focus" and e["room"] == "bravo")
        await demo.until(loud("bravo"))
        assert await demo.quit() == 0
    finally:
        await demo.kill()
    await asyncio.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []


@pytest.mark.slow
async def test_the_demo_heals_by_itself_when_its_server_dies(tmp_path):
    """SIGKILL the demo's server (and bots) process: the demo starts it again on the same port,
    the bots rejoin, and the user's client reconnects and hears them, with no key pressed."""
    import os
    import signal

    demo = await Headless.start("demo", "multicall", "--headless", "--audio-backend", "null")
    before: set[int] = set()
    try:
        await demo.until(loud("alpha"))
        before = children_of(demo.proc.pid)
        backend = [p for p in before if b"demo-backend" in _cmdline(p)]
        assert len(backend) == 1
        os.kill(backend[0], signal.SIGKILL)
        await demo.until(lambda e: e["event"] == "reconnecting")
        back = await demo.until(lambda e: e["event"] == "reconnected", timeout=30)
        await demo.until(loud("alpha"), timeout=20)
        assert back["downtime_s"] < 10
        again = [p for p in children_of(demo.proc.pid) if b"demo-backend" in _cmdline(p)]
        assert len(again) == 1 and again != backend
        before |= children_of(demo.proc.pid)
        assert ("left", "alpha") not in demo.names("left")
        assert await demo.quit() == 0
    finally:
        await demo.kill()
    await asyncio.sleep(0.5)
    assert [pid for pid in before if alive(pid)] == []


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


@pytest.mark.slow
async def test_livestream_demo_ring_accept_suspends_then_resumes(tmp_path):
    wav = tmp_path / "speaker.wav"
    demo = await Headless.start(
        "demo", "livestream", "--headless", "--output-wav", str(wav),
        "--ring-after", "3", "--call-seconds", "5",
    )  # fmt: skip
    try:
        await demo.until(lambda e: e["event"] == "joined" and e["room"] == "show")
        children = children_of(demo.proc.pid)
        await demo.until(loud("show"))
        ring = await demo.until(lambda e: e["event"] == "ring")
        assert ring["caller"] == "friend" and ring["suspends"] == ["show"]
        await demo.send("accept")
        suspended = await demo.until(lambda e: e["event"] == "suspended" and e["room"] == "show")
        left = await demo.until(lambda e: e["event"] == "left" and e["room"] == "one-to-one", 30)
        resumed = await demo.until(lambda e: e["event"] == "resumed" and e["room"] == "show")
        await demo.until(lambda e: e["event"] == "level" and e["t"] > resumed["t"] + 3)
        assert await demo.quit() == 0
    finally:
        await demo.kill()
    await asyncio.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []

    audio = read_wav(wav)
    # the WAV is closed as the client disconnects, just before "bye": align on its end
    start = demo_end(demo) - audio.size / 48_000

    def window(a: float, b: float):  # type: ignore[no-untyped-def]
        return audio[int((a - start) * 48_000) : int((b - start) * 48_000)]

    before = window(ring["t"] - 1.5, ring["t"] - 0.2)
    during = window(suspended["t"] + 0.8, left["t"] - 0.3)
    after = window(resumed["t"] + 1.0, resumed["t"] + 2.5)
    assert band_level_db(before, 440) > -30, "the livestream host should be audible before"
    assert band_level_db(during, 440) < -60, "the livestream must be silent during the 1:1"
    assert band_level_db(after, 440) > -30, "the livestream should resume after the 1:1"


@pytest.mark.slow
async def test_console_demo_four_rooms_in_turns_one_patched(tmp_path):
    """``mctui demo console``: four rooms under duck-existing, every room heard (dispatch in
    front, the others ducked), the bots talking one room at a time, fire patched in."""
    demo = await Headless.start("demo", "console", "--headless", "--audio-backend", "null")
    try:
        await demo.until(lambda e: e["event"] == "ready")
        assert [room for _, room in demo.names("joined")] == ["dispatch", "fire", "ems", "police"]
        await demo.until(lambda e: e["event"] == "transmit" and e["room"] == "fire" and e["on"])
        # the turns: each room's voice is heard in turn (ducked rooms too), never two at once
        for room in ("fire", "ems", "police", "dispatch"):
            await demo.until(lambda e, r=room: loud(r, -50)(e) and e["speaking"], timeout=25)
        assert ("ducked", "fire") in demo.names("ducked")
        speaking_now = [e for e in demo.events[-40:] if e["event"] == "level" and e["speaking"]]
        assert len({e["room"] for e in speaking_now if e["t"] >= demo.events[-1]["t"] - 0.05}) <= 1
        await demo.send("tx fire off")  # the demo patched fire in: this takes it out
        off = await demo.until(lambda e: e["event"] == "transmit")
        assert (off["room"], off["on"]) == ("fire", False)
        assert await demo.quit() == 0
    finally:
        await demo.kill()


@pytest.mark.slow
async def test_headless_script_events_and_wav_follow_focus(sfu_server, bots, tmp_path):
    await bots("tone-a", 440, "alpha")
    bot_b = await bots("tone-b", 660, "bravo")
    wav = tmp_path / "mix.wav"
    mic = tmp_path / "mic.wav"
    write_wav(mic, tone(1000, 0.5))
    token = issue_token(SECRET, "scripter")
    session = await Headless.start(
        "join", "alpha", "bravo", "--server", sfu_server.url, "--user", "scripter",
        "--token", token, "--headless", "--events", "-", "--output-wav", str(wav),
        "--input-wav", str(mic), "--audio-profile", "hifi",  # a tone is no voice: skip the chain
        state_dir=tmp_path / "state",
    )  # fmt: skip
    try:
        await session.until(lambda e: e["event"] == "joined")
        await session.until(lambda e: e["event"] == "ready")
        await session.until(loud("alpha", -30))
        # the suspended room still reports who talks there, marked as not heard
        await session.until(
            lambda e: (
                e["event"] == "level" and e["room"] == "bravo" and e["speaking"] and not e["heard"]
            )
        )
        await asyncio.sleep(1.0)
        assert band_level_db(bot_b.heard(0.5), 1000) < -60  # bravo joined with the mic off
        await session.send("focus bravo")
        to_bravo = await session.until(lambda e: e["event"] == "focus" and e["room"] == "bravo")
        await session.until(loud("bravo", -30))
        await asyncio.sleep(1.5)
        assert band_level_db(bot_b.heard(0.5), 1000) > -30, "the mic follows the focus"
        await session.send("mute bravo")  # a hand mute survives focus moves
        await session.until(lambda e: e["event"] == "muted")
        await session.send("focus alpha")
        to_alpha = await session.until(lambda e: e["event"] == "focus" and e["room"] == "alpha")
        await session.until(loud("alpha", -30))
        await asyncio.sleep(1.5)
        await session.send("focus bravo")
        await session.until(
            lambda e: e["event"] == "focus" and e["room"] == "bravo" and e["t"] > to_alpha["t"]
        )
        await asyncio.sleep(1.0)
        assert band_level_db(bot_b.heard(0.5), 1000) < -60, "bravo was muted by hand"
        await session.send("focus alpha")
        await session.until(
            lambda e: e["event"] == "focus" and e["room"] == "alpha" and e["t"] > to_alpha["t"]
        )
        await session.send("volume bravo -8")
        volume = await session.until(lambda e: e["event"] == "volume")
        assert (volume["room"], volume["volume_db"]) == ("bravo", -9.0)  # the 3 dB step
        assert json.loads((tmp_path / "state" / "mctui" / "volumes.json").read_text()) == {
            "default:bravo": -9.0
        }
        await session.send("device input no-such-mic")  # refused, and the session goes on
        refused = await session.until(lambda e: e["event"] == "error")
        assert "no input device matches 'no-such-mic'" in refused["message"], refused
        await session.send("nonsense")
        await session.until(lambda e: e["event"] == "error" and e is not refused)
        assert await session.quit() == 0
    finally:
        await session.kill()
    sequence = session.names("joined", "focus", "left", "bye")
    assert sequence[:2] == [("joined", "alpha"), ("focus", "alpha")]
    assert ("joined", "bravo") in sequence
    focus_moves = [room for kind, room in sequence if kind == "focus"]
    assert focus_moves[-4:] == ["bravo", "alpha", "bravo", "alpha"]
    assert sequence[-1] == ("bye", "")

    audio = read_wav(wav)
    # the WAV is closed as the client disconnects, just before "bye": align on its end
    start = demo_end(session) - audio.size / 48_000

    def window(a: float, b: float):  # type: ignore[no-untyped-def]
        return audio[int((a - start) * 48_000) : int((b - start) * 48_000)]

    first = window(to_bravo["t"] - 0.9, to_bravo["t"] - 0.2)
    middle = window(to_bravo["t"] + 0.6, to_alpha["t"] - 0.2)
    last = window(to_alpha["t"] + 0.6, to_alpha["t"] + 1.3)
    for segment, on, off in ((first, 440, 660), (middle, 660, 440), (last, 440, 660)):
        assert band_level_db(segment, on) > -30
        assert band_level_db(segment, off) < band_level_db(segment, on) - 40


async def test_recording_to_a_full_disk_is_an_error_event_and_the_call_goes_on(sfu_server, bots):
    """``/dev/full`` fails every write with ENOSPC, as a full disk does."""
    await bots("tone-a", 440, "alpha")
    token = issue_token(SECRET, "recorder")
    session = await Headless.start(
        "join", "alpha", "--server", sfu_server.url, "--user", "recorder", "--token", token,
        "--headless", "--output-wav", "/dev/full",
    )  # fmt: skip
    try:
        error = await session.until(lambda e: e["event"] == "error")
        assert "recording stopped" in error["message"]
        # the audio clock keeps running: the room is still heard after the failure
        await session.until(lambda e: loud("alpha", -30)(e) and e["t"] > error["t"] + 1.0)
        assert await session.quit() == 0
    finally:
        await session.kill()
    assert session.proc.stderr is not None
    stderr = (await session.proc.stderr.read()).decode()
    assert stderr == "", f"headless notices belong in events, not stderr: {stderr[-500:]}"


async def test_a_demo_backend_that_fails_says_why_and_logs_its_stderr(tmp_path):
    """The child's traceback goes to the log file, and the error names the cause."""
    import pytest

    from mctui.demo import DemoBackendError, DemoBackendProcess

    log = tmp_path / "mctui.log"
    child = DemoBackendProcess("no-such-scenario", 1.0, 1.0, log)
    with pytest.raises(DemoBackendError, match="did not start: it exited with code"):
        await child.start()
    assert "no-such-scenario" in log.read_text()
    child.stop()


@pytest.mark.slow
async def test_a_backend_that_closes_its_output_before_it_exits_is_reported_by_its_code():
    """The output closes some time before the process is reaped (a slow shutdown, a loaded
    machine): the error still gives the exit code, not "did not answer in 60 s"."""
    import sys

    from mctui.demo import DemoBackendError, DemoBackendProcess

    child = DemoBackendProcess("unused", 1.0, 1.0)
    child.args = [sys.executable, "-c", "import os, time; os.close(1); time.sleep(1.5); exit(3)"]
    with pytest.raises(DemoBackendError, match="did not start: it exited with code 3"):
        await child.start()
    child.stop()


@pytest.mark.slow
async def test_a_demo_whose_bots_cannot_reach_janus_says_so_in_one_line(tmp_path):
    """``--sfu janus`` with no Janus there: the demo exits 1 with the real cause (it gave the
    repr of a pending task, read from the end of the log), and the log holds no traceback of
    a messy shutdown (tasks destroyed while pending, a closed event loop)."""
    import subprocess

    log = tmp_path / "demo.log"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mctui", "demo", "--sfu", "janus", "--janus", "ws://127.0.0.1:9",
         "--headless", "--log-file", str(log)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "did not start" in line and "cannot reach Janus at ws://127.0.0.1:9" in line, line
    text = log.read_text()
    for noise in ("Traceback", "Task was destroyed", "Event loop is closed", "Unclosed"):
        assert noise not in text, text[-2000:]


@pytest.mark.slow
async def test_headless_console_commands(sfu_server, bots, tmp_path):
    """pan, tx, replay, record and activity from a script: each answers with its event, a bad
    value is an error event, and the session goes on."""
    await bots("tone-a", 440, "alpha")
    await bots("tone-b", 660, "bravo")
    token = issue_token(SECRET, "desk")
    session = await Headless.start(
        "join", "alpha", "bravo", "--server", sfu_server.url, "--user", "desk", "--token", token,
        "--headless", "--events", "-", "--policy", "duck-existing", "--audio-profile", "hifi",
        "--record-dir", str(tmp_path / "rec"), state_dir=tmp_path / "state",
    )  # fmt: skip
    try:
        await session.until(lambda e: e["event"] == "ready")
        heard = await session.until(lambda e: e["event"] == "activity" and e["room"] == "alpha"
                                    and e["speaking"] and e["last"] == "tone-a")  # fmt: skip
        assert heard["unheard"] is False and heard["speech_s"] >= 1
        await session.send("pan alpha -0.6")
        pan = await session.until(lambda e: e["event"] == "pan")
        assert (pan["room"], pan["pan"]) == ("alpha", -0.6)
        await session.send("tx alpha on")
        tx = await session.until(lambda e: e["event"] == "transmit")
        assert (tx["room"], tx["on"]) == ("alpha", True)
        await session.send("record bravo on")
        rec = await session.until(lambda e: e["event"] == "recording" and e["on"])
        assert rec["path"].startswith(str(tmp_path / "rec" / "default-bravo-"))
        await session.send("replay alpha 3")
        replay = await session.until(lambda e: e["event"] == "replay")
        assert (replay["room"], replay["playing"], replay["seconds"]) == ("alpha", True, 3.0)
        # the history holds what arrived since the join: a few kB a second of one talker
        assert 0 < replay["history_kb"] < 64 * replay["history_s"] and replay["history_s"] > 1
        await asyncio.sleep(1.0)
        await session.send("record bravo off")
        stopped = await session.until(lambda e: e["event"] == "recording" and not e["on"])
        assert stopped["path"] == rec["path"]
        assert await asyncio.to_thread(os.path.getsize, rec["path"]) > 0
        await session.send("pan alpha left")
        refused = await session.until(lambda e: e["event"] == "error")
        assert "left" in refused["message"]
        await session.send("tx nowhere on")
        await session.until(lambda e: e["event"] == "error" and e is not refused)
        assert await session.quit() == 0
    finally:
        await session.kill()
