"""A JACK dummy server (Debian's jackd2) as the virtual audio device for PortAudio tests.

Started by the tests themselves, under a server name of their own, and stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid


class JackServer:
    def __init__(self) -> None:
        self.name = f"mctui-test-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise RuntimeError("jackd is not installed (Debian package jackd2)")
        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
        self.proc = subprocess.Popen(
            [jackd, "--no-realtime", "-n", self.name, "-d", "dummy", "-r", "48000", "-p", "960"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"jackd exited: {err.strip()[-300:]}")
            if "system:playback_1" in self.ports():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("jackd did not come up within 10 s")

    def _env(self) -> dict[str, str]:
        return {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def ports(self) -> list[str]:
        result = subprocess.run(
            ["jack_lsp"], capture_output=True, text=True, env=self._env(), timeout=10
        )
        return result.stdout.split()

    def connect(self, source: str, destination: str) -> None:
        subprocess.run(
            ["jack_connect", source, destination], check=True, env=self._env(), timeout=10
        )

    def disconnect(self, source: str, destination: str) -> None:
        subprocess.run(["jack_disconnect", source, destination], env=self._env(), timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
