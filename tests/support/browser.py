"""A real headless Chromium for the guest page's tests, in a network namespace with only ``lo``
(or a NetLab's clients' namespace, for the guest on Janus).

``LoopbackHost`` is that namespace (created and deleted by the test, never linked to the root
namespace): the server, the bots, the headless mctui clients and Chromium all run in it and meet
on its own 127.0.0.1. ``Browser`` drives Chromium through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: fds 3 and 4), so the test reaches into the namespace without any
socket. Every process is stopped by PID and the namespace deleted by ``stop()``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mctui.bots.signals import tone
from netlab import _stop

CHROMIUM = "/usr/bin/chromium"
#: The pitch of the guest's fake microphone in the guest tests.
GUEST_HZ = 1000
_serial = itertools.count()

#: What the issue asks for, plus Chromium's own background traffic turned off (it would find
#: no route in this namespace anyway) and no sandbox (tests run as root).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--remote-debugging-pipe",
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # WebRtcHideLocalIpsWithMdns: a page without microphone permission offers mDNS names
    # instead of its addresses, and Chromium's mDNS responder cannot start in a namespace with
    # only lo (no multicast): it would then offer no candidate at all. Real networks have it.
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,"
    "WebRtcHideLocalIpsWithMdns",
    "--window-size=720,640",
]


def available() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium is not installed (make test installs it)"
    if shutil.which("ip") is None or os.geteuid() != 0:
        return "network namespaces need iproute2 and root"
    return None


class LoopbackHost:
    """One network namespace with only ``lo`` up: a machine with no network but itself."""

    def __init__(self) -> None:
        self.ns = f"mctui-{os.getpid()}-{next(_serial)}-web"
        self.processes: list[subprocess.Popen[Any]] = []
        self._made = False

    def start(self) -> LoopbackHost:
        subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
        self._made = True
        subprocess.run(
            ["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True, capture_output=True
        )
        return self

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in the namespace (``ip netns exec`` execs it: the PID is its own)."""
        process = subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], **kw)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        self.processes.clear()
        if self._made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=10)
            self._made = False


class Host(Protocol):
    """Where Chromium runs: a ``LoopbackHost``, or anything that starts a process in a
    namespace and stops it later (a NetLab's ``client_popen``)."""

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]: ...


class CdpError(RuntimeError):
    """Chromium answered a DevTools command with an error, or not at all."""


class Browser:
    """Headless Chromium in ``host``, one page, driven over the DevTools pipe."""

    def __init__(
        self, host: Host, workdir: Path, capture_wav: Path, extra_flags: tuple[str, ...] = ()
    ) -> None:
        """``extra_flags``: more of Chromium's switches (a test CA's key to trust, say)."""
        workdir.mkdir(parents=True, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_as_3_and_4() -> None:  # runs in the child before exec
            # Out of the way first (a pipe may itself be fd 3 or 4), then into place. dup2's
            # copies are inheritable; everything else of ours is close-on-exec.
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        with open(workdir / "chromium.out", "wb") as log:
            self.process = host.popen(
                [
                    CHROMIUM, *CHROMIUM_FLAGS,
                    f"--user-data-dir={workdir / 'profile'}",
                    f"--use-file-for-fake-audio-capture={capture_wav}",
                    *extra_flags,
                    "about:blank",
                ],
                stdout=log, stderr=subprocess.STDOUT, close_fds=False,
                preexec_fn=pipes_as_3_and_4,
            )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._ids = itertools.count(1)
        self._answers: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True, name="cdp-reader")
        self._reader.start()
        self.session = self._attach_to_page()
        self.command("Page.enable")
        self.command("Runtime.enable")

    # --- the pipe ------------------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._arrived:
                    self._answers[-1] = {"error": {"message": "chromium closed the pipe"}}
                    self._arrived.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._arrived:
                        self._answers[message["id"]] = message
                        self._arrived.notify_all()

    def command(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 20,
        session: str | None = "page",
    ) -> dict[str, Any]:  # fmt: skip
        """Send one DevTools command and wait for its answer."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session == "page":
            message["sessionId"] = self.session
        elif session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._arrived:
            while ident not in self._answers:
                if -1 in self._answers:
                    raise CdpError(f"{method}: {self._answers[-1]['error']['message']}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError(f"{method}: no answer within {timeout} s")
                self._arrived.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})  # type: ignore[no-any-return]

    def _attach_to_page(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            targets = self.command("Target.getTargets", session=None)["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                attached = self.command(
                    "Target.attachToTarget",
                    {"targetId": pages[0]["targetId"], "flatten": True},
                    session=None,
                )
                return str(attached["sessionId"])
            time.sleep(0.1)
        raise CdpError("chromium opened no page")

    # --- the page ------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load ``url`` as a new document (a link differing only in its fragment would
        otherwise be a same-document navigation)."""
        self.command("Page.navigate", {"url": "about:blank"})
        self.wait_for("location.href === 'about:blank' && document.readyState === 'complete'")
        self.command("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && !!window.mctuiGuest")

    def evaluate(self, expression: str, *, timeout: float = 20) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.command(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except CdpError as exc:  # the page is (re)loading: its objects are not there yet
                value = str(exc)
            else:
                if value:
                    return value
            time.sleep(0.1)
        phase = self.evaluate("JSON.stringify([mctuiGuest.phase, mctuiGuest.problem])")
        raise AssertionError(f"{expression!r} stayed {value!r} for {timeout} s (page: {phase})")

    def press(self, key: str) -> None:
        """A key typed by the user (keydown, char, keyup) into the focused page."""
        for kind in ("keyDown", "char", "keyUp"):
            params = {"type": kind, "key": key, "text": key if kind != "keyUp" else ""}
            self.command("Input.dispatchKeyEvent", params)

    def screenshot(self, path: Path) -> None:
        data = self.command("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def stop(self) -> None:
        """Stop Chromium by PID, then close the pipe. The read end is closed only once the
        reader thread has seen its end: closing an fd a thread is blocked reading would let a
        socket opened later reuse the number, and the thread would eat that socket's data."""
        with contextlib.suppress(OSError):
            os.close(self._to_browser)
        _stop(self.process)
        self._reader.join(timeout=10)
        if not self._reader.is_alive():
            os.close(self._from_browser)


def guest_voice(hz: float) -> np.ndarray:
    """0.4 s of tone, 0.3 s of silence, looped by Chromium's fake microphone: voice-like enough
    to pass its noise suppression."""
    signal = tone(hz, 0.5, 2.1)
    envelope = np.zeros_like(signal)
    for start in range(0, signal.size, 33_600):
        envelope[start : start + 19_200] = 1.0
    return signal * envelope
