"""A two-host network inside this machine, for tests and benchmarks (DESIGN.md section 7).

Two network namespaces that this module creates and deletes, ``…-srv`` (the server's host) and
``…-cli`` (the clients' host), each with only ``lo`` and a TUN device, joined by our forwarder
process (``netlab_forwarder.py``), which copies packets between the TUN devices and can drop,
delay, jitter and blackhole them. Addresses come from a private /30 that exists only inside these
namespaces; neither is linked to the root namespace, so nothing a test sends can reach the
machine's own interfaces or anything outside. Every process started through ``popen`` and the
forwarder are stopped by PID, and both namespaces are deleted, by ``stop()``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SERVER_IP = "10.203.0.1"
CLIENT_IP = "10.203.0.2"
FORWARDER = Path(__file__).with_name("netlab_forwarder.py")
_serial = itertools.count()


class NetLabError(RuntimeError):
    """The lab could not be built here (no ``ip``, no TUN, not root)."""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def available() -> str | None:
    """Why a lab cannot be built on this machine, or None when it can."""
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    return None


class NetLab:
    """Two namespaces and the impairing link between them."""

    def __init__(self) -> None:
        base = f"mctui-{os.getpid()}-{next(_serial)}"
        self.server_ns = f"{base}-srv"
        self.client_ns = f"{base}-cli"
        self.forwarder: subprocess.Popen[str] | None = None
        self.processes: list[subprocess.Popen[Any]] = []
        self._namespaces: list[str] = []

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> NetLab:
        why = available()
        if why is not None:
            raise NetLabError(why)
        try:
            for ns in (self.server_ns, self.client_ns):
                _ip("netns", "add", ns)
                self._namespaces.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            self.forwarder = subprocess.Popen(
                [
                    "ip", "netns", "exec", self.server_ns, sys.executable, str(FORWARDER),
                    "--peer-netns", self.client_ns,
                ],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert self.forwarder.stdout is not None
            if self.forwarder.stdout.readline().strip() != "ready":
                raise NetLabError("the forwarder did not start")
            for ns, dev, local, peer in (
                (self.server_ns, "tun-a", SERVER_IP, CLIENT_IP),
                (self.client_ns, "tun-b", CLIENT_IP, SERVER_IP),
            ):
                _ip("-n", ns, "addr", "add", local, "peer", peer, "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in [*self.processes, *([self.forwarder] if self.forwarder else [])]:
            _stop(process)
        self.processes.clear()
        self.forwarder = None
        for ns in self._namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self._namespaces.clear()

    # --- using it -----------------------------------------------------------------------------

    def impair(
        self,
        *,
        loss: float | None = None,
        delay_ms: float | None = None,
        jitter_ms: float | None = None,
        blackhole: bool | None = None,
        drop_udp: bool | None = None,
        direction: str = "both",
    ) -> dict[str, dict[str, int]]:
        """Change the link (each direction on its own or both); returns the packet counters."""
        command: dict[str, Any] = {"direction": direction}
        for key, value in (
            ("loss", loss), ("delay_ms", delay_ms), ("jitter_ms", jitter_ms),
            ("blackhole", blackhole), ("drop_udp", drop_udp),
        ):  # fmt: skip
            if value is not None:
                command[key] = value
        return self._ask(command)

    def counters(self) -> dict[str, dict[str, int]]:
        return self._ask({"stats": True})

    def _ask(self, command: dict[str, Any]) -> dict[str, dict[str, int]]:
        assert self.forwarder is not None and self.forwarder.stdin and self.forwarder.stdout
        self.forwarder.stdin.write(json.dumps(command) + "\n")
        self.forwarder.stdin.flush()
        answer = self.forwarder.stdout.readline().strip()
        if not answer.startswith("ok "):
            raise NetLabError(f"the forwarder said {answer!r}")
        return json.loads(answer[3:])  # type: ignore[no-any-return]

    def popen(self, ns: str, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside namespace ``ns``; ``stop()`` stops it by PID.

        ``ip netns exec`` execs the program, so the PID is the program's own."""
        process = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kw)
        self.processes.append(process)
        return process

    def client_popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        """``popen`` in the clients' namespace."""
        return self.popen(self.client_ns, argv, **kw)

    def server_popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        """``popen`` in the server's namespace (a participant whose path is never impaired)."""
        return self.popen(self.server_ns, argv, **kw)

    def run(
        self, ns: str, argv: list[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout
        )


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=8)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def namespaces_left(lab: NetLab | None = None) -> list[str]:
    """This process's lab namespaces that still exist (tests assert none): ``lab``'s only, or
    every lab's (another fixture's lab may rightly still be up)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    mine = (lab.server_ns, lab.client_ns) if lab is not None else (f"mctui-{os.getpid()}-",)
    return [line.split()[0] for line in out.splitlines() if line.startswith(mine)]


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    """Read ``process``'s stdout until a line contains ``needle``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise NetLabError(f"the process exited (code {process.poll()}) before {needle!r}")
        if needle in line:
            return line
    raise NetLabError(f"no {needle!r} within {timeout} s")
