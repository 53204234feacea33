"""Calls that survive: real ``mctui serve``, ``mctui bot`` and ``mctui join --headless`` processes,
a server killed with SIGKILL and restarted, bots killed and frozen, and the speaker mix read back
from the recorded WAV.

Every process is started here and stopped by PID (``procs`` fixture); the restart test needs its
own server, the bot tests share one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headless_proc import MCTUI, HeadlessJoin, hears
from mctui.audio.wav_backend import read_wav
from spectrum import WINDOW_S, back_after, tone_levels

SECRET = "reconnect-test-secret-0123456789abcdef"


class Procs:
    """Processes of one test, stopped by PID at its end whatever happens."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[Any]] = []

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(argv, **kw)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)  # a frozen one must be able to stop
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def procs() -> Iterator[Procs]:
    running = Procs()
    try:
        yield running
    finally:
        running.stop_all()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(procs: Procs, port: int, log: Path, *extra: str) -> subprocess.Popen[str]:
    """``mctui serve`` on 127.0.0.1:``port``; returns once it listens."""
    process = procs.popen(
        [*MCTUI, "serve", "--port", str(port), "--secret", SECRET, "--log-file", str(log),
         *extra],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening" in line, f"the server did not start: {line!r}"
    return process


def bot(
    procs: Procs, url: str, user: str, room: str, hz: float, log: Path
) -> subprocess.Popen[str]:
    with log.with_suffix(".stderr").open("w") as stderr:  # what the bot says on its console
        process = procs.popen(
            [*MCTUI, "bot", room, "--server", url, "--secret", SECRET, "--user", user,
             "--tone", str(hz), "--log-file", str(log)],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert process.stdout is not None
    assert f"bot {user}" in process.stdout.readline()
    return process


@pytest.mark.slow
def test_a_server_killed_and_restarted_brings_every_call_back(procs: Procs, tmp_path: Path) -> None:
    """SIGKILL the server mid-call, restart it on the same port: both audible rooms are back in
    the speaker mix within 3 s of the new server listening, the focus and the hand suspension
    are as they were, the bots came back by themselves, and the events say what happened."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(procs, port, tmp_path / "serve1.log", "--grace", "5")
    for room, hz in (("alpha", 440), ("bravo", 700), ("charlie", 1170)):
        bot(procs, url, f"{room}-bot", room, hz, tmp_path / f"{room}-bot.log")
    me = HeadlessJoin(
        procs.popen, url, SECRET, "me", ["alpha", "bravo", "charlie"], tmp_path,
        "--policy", "duck-existing",
    )  # fmt: skip
    me.wait(lambda e: e["event"] == "ready", timeout=30)
    me.command("suspend charlie")
    me.command("focus bravo")
    me.wait(hears("bravo-bot"))
    me.wait(hears("alpha-bot", dbfs=-50))  # ducked, still heard
    time.sleep(1.5)

    server.kill()  # SIGKILL: no goodbye to anyone
    server.wait(timeout=5)
    killed_at = me.recorded_s()
    time.sleep(0.5)
    serve(procs, port, tmp_path / "serve2.log", "--grace", "5")
    listening_at = me.recorded_s()
    me.wait(lambda e: e["event"] == "reconnected", timeout=20)
    me.wait(hears("bravo-bot"), timeout=10)
    time.sleep(3.0)
    me.quit()

    events = me.events()
    audio = read_wav(me.wav)
    # the focused room (700 Hz, 0 dB) and the ducked one (440 Hz, -18 dB) are back within 3 s
    focused_back = back_after(audio, 700, listening_at, -25)
    ducked_back = back_after(audio, 440, listening_at, -45)
    print(f"after the new server listened: focused back in {focused_back:.1f} s, ducked in "
          f"{ducked_back:.1f} s")  # fmt: skip
    assert focused_back <= 3.0 and ducked_back <= 3.0
    # the hand-suspended room stayed silent, before and after
    charlie = tone_levels(audio, 1170)[int(killed_at / WINDOW_S) - 5 :]
    assert (charlie < -50).all(), f"the suspended room was heard: {charlie.max():.1f} dB"
    # silence in between: the old server's audio was not replayed
    gap = tone_levels(audio, 700)[int((killed_at + 0.4) / WINDOW_S) : int(listening_at / WINDOW_S)]
    assert (gap < -40).all()
    # events in order, and no call was left or refocused
    lost = next(i for i, e in enumerate(events) if e["event"] == "reconnecting")
    assert events[lost]["reason"].startswith("connection lost"), events[lost]  # no close frame
    quit_at = next(i for i, e in enumerate(events) if e["event"] == "left")  # our own quit
    after = events[lost:quit_at]
    assert "reconnected" in [e["event"] for e in after]
    assert not [e for e in after if e["event"] in ("left", "focus", "suspended", "resumed")], after
    reconnected = next(e for e in after if e["event"] == "reconnected")
    assert 0.5 <= reconnected["downtime_s"] < 10
    # a bot says on its console that it lost the server, and that it is back
    said = (tmp_path / "alpha-bot.stderr").read_text()
    assert "reconnecting" in said and "reconnected to" in said, said


def joins_of(joiner: HeadlessJoin, user: str) -> list[dict[str, Any]]:
    return [
        e
        for e in joiner.events()
        if e["event"] == "participant_joined" and e["participant"] == user
    ]


@pytest.mark.slow
def test_a_killed_bot_leaves_at_once_and_a_frozen_one_is_marked_then_times_out(
    procs: Procs, tmp_path: Path
) -> None:
    """SIGKILL closes the bot's connection: the others see it leave within 2 s. SIGSTOP leaves
    the connection open and silent: the server's heartbeat notices, the others see it away
    (reconnecting) within 10 s, and after the grace period it leaves with reason timeout."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve(procs, port, tmp_path / "serve.log", "--grace", "3")
    killed = bot(procs, url, "killed", "room", 440, tmp_path / "killed.log")
    frozen = bot(procs, url, "frozen", "room", 660, tmp_path / "frozen.log")
    me = HeadlessJoin(procs.popen, url, SECRET, "me", ["room"], tmp_path)
    me.wait(hears("killed"))
    me.wait(hears("frozen"))

    killed.kill()
    sent = time.monotonic()
    me.wait(lambda e: e["event"] == "participant_left" and e["participant"] == "killed")
    left_after = time.monotonic() - sent
    gone = [e for e in me.events() if e["event"] == "participant_left"]
    assert gone[-1]["reason"] == "disconnected"

    os.kill(frozen.pid, signal.SIGSTOP)
    sent = time.monotonic()
    me.wait(lambda e: e["event"] == "participant_away" and e["away"], timeout=15)
    away_after = time.monotonic() - sent
    me.wait(lambda e: e["event"] == "participant_left" and e["participant"] == "frozen",
            timeout=15)  # fmt: skip
    timed_out_after = time.monotonic() - sent
    reason = [e for e in me.events() if e["event"] == "participant_left"][-1]["reason"]
    # thawed, the bot finds its connection closed and comes back as a new participant
    os.kill(frozen.pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while len(joins_of(me, "frozen")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(joins_of(me, "frozen")) == 2, me.events()[-8:]
    me.quit()
    print(f"killed: left after {left_after:.2f} s; frozen: away after {away_after:.2f} s, "
          f"left after {timed_out_after:.2f} s ({reason})")  # fmt: skip
    assert left_after <= 2.0
    assert away_after <= 10.0
    assert reason == "timeout"
    assert away_after + 2.5 <= timed_out_after <= away_after + 5.0  # the 3 s grace
