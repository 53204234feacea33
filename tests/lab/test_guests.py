"""Guests in a real browser: Debian's headless Chromium opens an invite link.

Everything runs in one network namespace that has only ``lo`` (``browser.LoopbackHost``):
``mctui serve``, a tone bot, a headless mctui client recording its speaker mix, and Chromium,
whose fake microphone plays ``GUEST_HZ`` in syllable-length bursts (a steady tone is what a
browser's noise suppression is built to remove). One of each for the module; the tests run in
order on the same guest page where that is how a person would use it (join, mute, leave).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import numpy as np
import pytest

import browser
from browser import GUEST_HZ, Browser, LoopbackHost, guest_voice
from headless_proc import MCTUI, WAV_BYTES_PER_S, HeadlessJoin, hears
from mctui.audio.wav_backend import write_wav
from mctui.server.tokens import issue_token
from netlab import namespaces_left, wait_for_line
from spectrum import band_level_db

#: What this module needs of the lab (conftest.py: the tiers).
pytestmark = [pytest.mark.browser, pytest.mark.netns]

SECRET = "guest-test-secret-0123456789abcdef"
PORT = 8470
URL = f"http://127.0.0.1:{PORT}"
BOT_HZ = 440
ROOM = "web"


@dataclass
class Web:
    host: LoopbackHost
    server: subprocess.Popen[str]
    browser: Browser
    listener: HeadlessJoin
    workdir: Path

    def serve(self) -> None:
        self.server = _serve(self.host, self.workdir)

    def invite(self, room: str = ROOM, *extra: str) -> str:
        """``mctui invite`` (it only signs; it needs no network)."""
        out = subprocess.run(
            [*MCTUI, "invite", room, "--server", URL, "--secret", SECRET, "--log-file",
             str(self.workdir / "invite.log"), *extra],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return out.strip().splitlines()[-1]

    def guest_id(self) -> str:
        return str(self.browser.evaluate("mctuiGuest.me.id"))

    def mix(self, start_s: float, end_s: float) -> np.ndarray:
        """The listener's recorded speaker mix between two marks (mono), read while it runs."""
        with open(self.listener.wav, "rb") as wav:
            wav.seek(44 + int(start_s * 48_000) * 4)
            raw = wav.read(int((end_s - start_s) * WAV_BYTES_PER_S))
        stereo = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i2").reshape(-1, 2)
        return stereo.mean(axis=1).astype(np.float32) / 32768

    def guest_level_db(self, seconds: float = 1.5) -> float:
        """The guest's tone in the next ``seconds`` of the listener's mix."""
        start = self.listener.recorded_s()
        time.sleep(seconds + 0.3)
        return band_level_db(self.mix(start, start + seconds), GUEST_HZ)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    why = browser.available()
    if why is not None:
        pytest.fail(f"the browser tests cannot run here: {why}")
    workdir = tmp_path_factory.mktemp("guests")
    host = LoopbackHost().start()
    try:
        server = _serve(host, workdir)
        bot = host.popen(
            [*MCTUI, "bot", ROOM, "--tone", str(BOT_HZ), "--server", URL, "--secret", SECRET,
             "--log-file", str(workdir / "bot.log")],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for_line(bot, "bot ")
        listener = HeadlessJoin(host.popen, URL, SECRET, "listener", [ROOM], workdir)
        listener.wait(hears(f"bot-{BOT_HZ}hz"))
        capture = workdir / "guest-mic.wav"
        write_wav(capture, guest_voice(GUEST_HZ))
        chromium = Browser(host, workdir / "chromium", capture)
        yield Web(host, server, chromium, listener, workdir)
    finally:
        host.stop()
        assert namespaces_left() == [] or host.ns not in namespaces_left()


def _serve(host: LoopbackHost, workdir: Path) -> subprocess.Popen[str]:
    server = host.popen(
        [*MCTUI, "serve", "--port", str(PORT), "--secret", SECRET, "--log-file",
         str(workdir / "serve.log"),],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_line(server, "listening")
    return server


def test_a_guest_joins_from_the_link_hears_and_is_heard(web: Web) -> None:
    page = web.browser
    page.open(web.invite(ROOM, "--name", "Ann"))
    page.wait_for("mctuiGuest.phase === 'in-call'")
    guest = web.guest_id()
    assert guest.startswith("guest-")
    # the mctui client sees a participant named like anyone else, and hears the guest's mic
    web.listener.wait(lambda e: e["event"] == "participant_joined" and e["participant"] == guest)
    web.listener.wait(hears(guest, dbfs=-30), timeout=15)
    web.listener.wait(
        lambda e: e["event"] == "level" and e["participant"] == guest and e["speaking"]
    )
    assert web.guest_level_db() > -30
    # the browser plays the bot: audio energy arrives on the slot that carries it
    page.wait_for(
        f"mctuiGuest.stats().then(s => s.inbound.some(i => i.owner === 'bot-{BOT_HZ}hz' "
        "&& i.energy > 0.05))"
    )
    # RTCP: the SFU (an mctui receiver) sends Chromium receiver reports on the guest's audio,
    # so Chromium's sender has a remote-inbound-rtp entry (none before the tap kept RTCP)
    page.wait_for("mctuiGuest.stats().then(s => s.uplink.length > 0)", timeout=15)
    # the page lists everyone with meters: the guest's own moves, the bot shows speaking
    meter = f"document.querySelector('li[data-user=\"{guest}\"] .meter')"
    page.wait_for(f"+{meter}.getAttribute('aria-valuenow') > 40")
    page.wait_for(
        f"document.querySelector('li[data-user=\"bot-{BOT_HZ}hz\"]').classList.contains('speaking')"
    )
    names = page.evaluate(
        "[...document.querySelectorAll('#participants .who')].map(e => e.textContent)"
    )
    assert sorted(names) == sorted(["Ann", f"bot-{BOT_HZ}hz", "listener"])
    assert page.evaluate("mctuiGuest.trickled") > 0  # candidates went after the offer
    page.screenshot(web.workdir / "guest-page.png")


def test_mute_silences_the_guest_and_unmute_brings_it_back(web: Web) -> None:
    page = web.browser
    page.press("m")
    page.wait_for("document.getElementById('mute').getAttribute('aria-pressed') === 'true'")
    time.sleep(0.5)  # what was already under way plays out
    assert web.guest_level_db() < -60
    page.press("m")
    page.wait_for("document.getElementById('mute').getAttribute('aria-pressed') === 'false'")
    time.sleep(0.5)
    assert web.guest_level_db() > -30


def test_the_page_says_reconnecting_and_comes_back_after_a_server_restart(web: Web) -> None:
    page = web.browser
    guest = web.guest_id()
    seen = len(web.listener.events())
    web.server.kill()
    web.server.wait(timeout=5)
    page.wait_for("mctuiGuest.phase === 'reconnecting'", timeout=10)
    assert "Reconnecting" in page.evaluate("document.getElementById('status').textContent")
    web.serve()
    page.wait_for("mctuiGuest.phase === 'in-call'", timeout=20)
    assert page.evaluate("mctuiGuest.me.id") == guest  # the same guest, not a new one
    web.listener.wait(lambda e: e["event"] == "reconnected", timeout=15, after=seen)
    time.sleep(1.0)
    assert web.guest_level_db() > -30


def test_leave_removes_the_guest_from_the_call(web: Web) -> None:
    page = web.browser
    guest = web.guest_id()
    seen = len(web.listener.events())
    page.press("l")
    page.wait_for("mctuiGuest.phase === 'left'")
    left = web.listener.wait(
        lambda e: e["event"] == "participant_left" and e["participant"] == guest,
        timeout=5, after=seen,
    )  # fmt: skip
    assert left["reason"] == "left"
    assert page.evaluate("document.getElementById('rejoin').hidden") is False


def test_a_guest_waits_for_a_call_that_has_not_started(web: Web) -> None:
    page = web.browser
    page.open(web.invite("later"))
    page.wait_for("mctuiGuest.phase === 'waiting'")
    assert "Waiting for the call to start" in page.evaluate(
        "document.getElementById('status').textContent"
    )
    web.listener.command("join later")
    page.wait_for("mctuiGuest.phase === 'in-call'", timeout=15)
    page.press("l")
    page.wait_for("mctuiGuest.phase === 'left'")


def test_the_page_says_when_the_host_ends_the_call(web: Web) -> None:
    """The listener created "later" above, so it owns it; its link comes from the server
    (headless ``invite``: ``Call.invite``), not from the secret."""
    page = web.browser
    seen = len(web.listener.events())
    web.listener.command("invite later Bea")
    link = web.listener.wait(lambda e: e["event"] == "invite", after=seen)["link"]
    page.open(link)
    page.wait_for("mctuiGuest.phase === 'in-call'")
    assert page.evaluate("mctuiGuest.me.name") == "Bea"
    web.listener.command("end later")
    page.wait_for("mctuiGuest.phase === 'ended'", timeout=10)
    assert "ended by listener" in page.evaluate("mctuiGuest.problem")


#: The browser refuses the microphone as it does when the user blocks it (Chromium's fake-UI
#: flag grants every request, whatever the permission settings say), until the test lifts it.
DENY_MICROPHONE = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.denyMicrophone = true;
  navigator.mediaDevices.getUserMedia = (constraints) => window.denyMicrophone
    ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
    : real(constraints);
})();
"""


def test_a_blocked_microphone_says_so_and_the_guest_still_listens(web: Web) -> None:
    page = web.browser
    script = page.command("Page.addScriptToEvaluateOnNewDocument", {"source": DENY_MICROPHONE})
    try:
        page.open(web.invite(ROOM, "--name", "Cy"))
        page.wait_for("mctuiGuest.phase === 'in-call'")
        assert "microphone is blocked" in page.evaluate("mctuiGuest.problem")
        assert page.evaluate("document.getElementById('mute').disabled") is True
        page.wait_for(
            f"mctuiGuest.stats().then(s => s.outbound.length === 0 && s.inbound.some("
            f"i => i.owner === 'bot-{BOT_HZ}hz' && i.energy > 0.05))"
        )
        page.evaluate("window.denyMicrophone = false")  # the user allows it, then Try again
        page.evaluate("document.getElementById('retry').click()")
        page.wait_for("mctuiGuest.micReady && mctuiGuest.phase === 'in-call'", timeout=15)
        assert page.evaluate("mctuiGuest.problem") == ""
        web.listener.wait(hears(web.guest_id(), dbfs=-30), timeout=15)
    finally:
        page.command("Page.removeScriptToEvaluateOnNewDocument", script)
    page.press("l")
    page.wait_for("mctuiGuest.phase === 'left'")


def test_a_guest_of_a_livestream_listens_only(web: Web) -> None:
    page = web.browser
    web.listener.command("join livestream:show")  # the listener hosts it
    web.listener.wait(lambda e: e["event"] == "joined" and e.get("room") == "show")
    page.open(web.invite("livestream:show"))
    page.wait_for("mctuiGuest.phase === 'in-call'")
    assert page.evaluate("[mctuiGuest.role, mctuiGuest.canPublish]") == ["viewer", False]
    assert page.evaluate("document.getElementById('mute').disabled") is True
    stats = page.evaluate("mctuiGuest.stats()")
    assert stats["outbound"] == []  # nothing published, and no microphone asked for
    page.press("l")
    page.wait_for("mctuiGuest.phase === 'left'")


@pytest.mark.parametrize(
    ("make_token", "says"),
    [
        (lambda: _expired_token(), "expired"),
        (lambda: issue_token(SECRET, "guest-x", call="default:other"), "not for this call"),
        (lambda: issue_token("another-secret-0123456789abcdefgh", "guest-x"), "not valid"),
        (lambda: "", "missing its call or token"),
    ],
    ids=["expired", "wrong-room", "forged", "no-token"],
)
def test_a_bad_link_says_what_is_wrong(web: Web, make_token, says: str) -> None:  # type: ignore[no-untyped-def]
    page = web.browser
    token = make_token()
    page.open(f"{URL}/#call=default:{ROOM}&token={token}")
    page.wait_for("mctuiGuest.phase === 'failed'")
    problem = page.evaluate("document.getElementById('problem-text').textContent")
    assert says in problem
    assert page.evaluate("document.getElementById('problem').hidden") is False


def _expired_token() -> str:
    now = int(time.time())
    claims = {"sub": "guest-x", "name": "X", "iat": now - 7200, "exp": now - 60,
              "call": f"default:{ROOM}"}  # fmt: skip
    return jwt.encode(claims, SECRET, algorithm="HS256")
