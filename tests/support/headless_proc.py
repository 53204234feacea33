"""A real ``mctui join --headless`` process: its JSON events, its recorded speaker mix, commands.

``spawn`` starts the argv (``subprocess.Popen``, or a NetLab's ``popen`` for a namespace); the
caller stops the process by PID (``quit()`` or its own cleanup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mctui.audio.wav_backend import write_wav
from mctui.bots.signals import tone

MCTUI = [sys.executable, "-m", "mctui"]
#: The recorded speaker mix: 48 kHz, 16-bit stereo.
WAV_BYTES_PER_S = 48_000 * 2 * 2
Spawn = Callable[..., "subprocess.Popen[Any]"]


class HeadlessJoin:
    """``mctui join ROOMS --headless`` recording its speaker mix to a WAV file."""

    def __init__(
        self,
        spawn: Spawn,
        url: str,
        secret: str,
        user: str,
        rooms: list[str],
        workdir: Path,
        *extra: str,
        hz: float | None = None,
    ) -> None:
        self.events_path = workdir / f"{user}.events"
        self.wav = workdir / f"{user}.wav"
        argv = [
            *MCTUI, "join", *rooms, "--headless", "--server", url, "--user", user,
            "--secret", secret, "--events", str(self.events_path), "--output-wav", str(self.wav),
            "--audio-profile", "hifi", "--log-file", str(workdir / f"{user}.log"), *extra,
        ]  # fmt: skip
        if hz is not None:
            mic = workdir / f"{user}-mic.wav"
            write_wav(mic, tone(hz, 0.5))
            argv += ["--input-wav", str(mic)]
        self.process = spawn(argv, stdin=subprocess.PIPE, text=True)

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20, after: int = 0
    ) -> dict[str, Any]:
        """The first event (from the ``after``-th on) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events()[after:]:
                if predicate(event):
                    return event
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no such event within {timeout} s: {self.events()[-8:]}")

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def recorded_s(self) -> float:
        """Seconds of speaker mix written so far (a mark to find a moment in the WAV later)."""
        try:
            return max(0.0, (os.path.getsize(self.wav) - 44) / WAV_BYTES_PER_S)
        except OSError:
            return 0.0

    def quit(self) -> None:
        self.command("quit")
        self.process.wait(timeout=20)


def hears(participant: str, dbfs: float = -30) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e["event"] == "level" and e["participant"] == participant and e["heard"]
        and e["dbfs"] > dbfs
    )  # fmt: skip
