"""Janus with more moving parts: an instance that dies mid-call (the call moves to one that
works, by itself), and the headless demo run as a user would, on Janus, with a browser guest."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import janus_lab
from browser import GUEST_HZ, Browser, guest_voice
from helpers import wait_until
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.backends import MemoryBackend
from mctui.audio.wav_backend import write_wav
from mctui.bots.signals import tone
from mctui.engine.call import Call
from mctui.server.app import start_server
from mctui.server.janus_sfu import JanusSfu
from mctui.server.metrics import start_metrics
from mctui.server.tokens import issue_token
from netlab import SERVER_IP
from scrape import scrape
from testbed import JANUS_ADMIN_KEY, JANUS_PORTS, SECRET

#: What this module needs of the lab (conftest.py: the tiers).
pytestmark = [pytest.mark.janus, pytest.mark.netns]


def hearing(call: Call, user_id: str, yes: bool = True):  # type: ignore[no-untyped-def]
    """Until ``call`` plays ``user_id``'s audio (its own meter of what it plays), or stops."""

    def now(people) -> bool:  # type: ignore[no-untyped-def]
        heard = any(p.user.id == user_id and p.heard and p.audio_level > -30 for p in people)
        return heard == yes

    return wait_until(call.state, "participants", now, timeout=20)


async def talker_and_ear(url: str, room: str, into: list[Client]) -> Call:
    """A talker (a 500 Hz tone) and a listener in ``room`` of the server at ``url``, both
    added to ``into`` (the caller disconnects them); the listener's call."""
    for user, signal_data in (("talker", tone(500)), ("ear", None)):
        options = ClientOptions(
            audio_device=MemoryBackend(signal_data),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
            reconnect_timeout_s=60,
        )
        client = Client(url, User(user), issue_token(SECRET, user), options)
        await client.connect()
        into.append(client)
        await client.make_call(CallType.DEFAULT, room).join()
    return into[-1].state.active_calls[0]


async def test_a_lost_janus_instance_moves_its_calls_to_another(
    janus_sfu_lab,
    tmp_path_factory,  # type: ignore[no-untyped-def]
) -> None:
    """A third instance carries a call and is killed (SIGKILL): the coordinator tells the call
    (``call.media_error``), both clients rebuild their media, the call lands on the instance
    that works and the audio is back; nobody left the call. ``/metrics`` says which instance
    is down, and counts the participants under the Janus backend."""
    lab = janus_sfu_lab
    doomed = janus_lab.start(lab, tmp_path_factory.mktemp("janus8190"), 8190, JANUS_ADMIN_KEY)
    urls = [f"ws://{SERVER_IP}:8190", f"ws://{SERVER_IP}:{JANUS_PORTS[0]}"]
    with janus_lab.inside(lab.client_ns):
        server = await start_server(SECRET, "127.0.0.1", 0, sfu=JanusSfu(urls, JANUS_ADMIN_KEY))
        metrics = await start_metrics(server.coordinator, "127.0.0.1", 0)
        clients: list[Client] = []
        try:
            ear = await talker_and_ear(server.url, "fragile", clients)
            await hearing(ear, "talker")
            up = await scrape(metrics.url)
            assert up['mctui_participants{sfu="janus"}'] == 2
            assert [up[f'mctui_janus_instance_up{{url="{url}"}}'] for url in urls] == [1, 1]
            sfu: JanusSfu = server.coordinator.sfu  # type: ignore[assignment]
            assert sfu.rooms["default:fragile"].instance.url == urls[0]
            departures: list[int] = []
            ear.state.observe("participants").listen(
                lambda people: departures.append(1) if len(people) < 2 else None
            )
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=5)
            started = asyncio.get_running_loop().time()
            await hearing(ear, "talker", yes=False)  # the audio did stop
            await hearing(ear, "talker")
            took = asyncio.get_running_loop().time() - started
            print(f"audio back {took:.1f} s after the instance died")
            assert sfu.rooms["default:fragile"].instance.url == urls[1]
            assert departures == []
            down = await scrape(metrics.url)
            assert [down[f'mctui_janus_instance_up{{url="{url}"}}'] for url in urls] == [0, 1]
        finally:
            for client in clients:
                await client.disconnect()
            await metrics.stop()
            await server.stop()


@pytest.mark.browser
def test_the_headless_demo_runs_on_janus_and_a_browser_guest_joins_it(
    janus_sfu_lab, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """``mctui demo --sfu janus``: the demo's server drives Janus, its bots and the user's
    client send their media there, and the user hears the room. Then a guest opens the room's
    invite link in headless Chromium (in the same namespace as the demo): the guest page
    publishes to Janus and answers Janus's offers, and the demo's user hears the guest."""
    lab = janus_sfu_lab
    demo = lab.client_popen(
        [sys.executable, "-m", "mctui", "demo", "multicall", "--headless", "--audio-backend",
         "null", "--sfu", "janus", "--janus", f"ws://{SERVER_IP}:{JANUS_PORTS[0]}",
         "--janus-admin-key", JANUS_ADMIN_KEY, "--log-file", str(tmp_path / "demo.log")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    events = Events(demo)
    try:
        events.until(
            lambda e: e["event"] == "level" and e["room"] == "alpha" and bool(e["heard"])
            and float(e["dbfs"]) > -40  # type: ignore[arg-type]
        )  # fmt: skip
        events.send("invite alpha Dee")
        link = str(events.until(lambda e: e["event"] == "invite")["link"])
        capture = tmp_path / "guest-mic.wav"
        write_wav(capture, guest_voice(GUEST_HZ))
        page = Browser(SimpleNamespace(popen=lab.client_popen), tmp_path / "chromium", capture)
        try:
            page.open(link)
            page.wait_for("mctuiGuest.phase === 'in-call'", timeout=30)
            guest = page.evaluate("mctuiGuest.me.id")
            # the guest hears the room through Janus, and the demo's user hears the guest
            page.wait_for(
                "mctuiGuest.stats().then(s => s.inbound.some(i => i.energy > 0.01))", timeout=20
            )
            events.until(
                lambda e: e["event"] == "level" and e.get("participant") == guest
                and bool(e["heard"]) and float(e["dbfs"]) > -40,  # type: ignore[arg-type]
                timeout=20,
            )  # fmt: skip
        finally:
            page.stop()
        events.send("quit")
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


class Events:
    """A headless process's JSON events, read as they come (it emits levels at 10 Hz)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.seen: list[dict[str, object]] = []

    def until(self, predicate, timeout: float = 60) -> dict[str, object]:  # type: ignore[no-untyped-def]
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            assert line, f"the process ended: {self.seen[-5:]}"
            event = json.loads(line)
            self.seen.append(event)
            if predicate(event):
                return event  # type: ignore[no-any-return]
        raise AssertionError(f"no such event in {timeout} s: {self.seen[-5:]}")

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()


@pytest.mark.slow
def test_a_ring_into_a_livestream_on_janus(janus_sfu_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The livestream demo on Janus: the friend's ring suspends the show, the 1:1 is heard, and
    the show comes back when it ends; the recorded mix says so."""
    from mctui.audio.wav_backend import read_wav
    from spectrum import band_level_db

    wav = tmp_path / "speaker.wav"
    demo = janus_sfu_lab.client_popen(
        [sys.executable, "-m", "mctui", "demo", "livestream", "--headless", "--audio-backend",
         "null", "--output-wav", str(wav), "--ring-after", "3", "--call-seconds", "5",
         "--sfu", "janus", "--janus", f"ws://{SERVER_IP}:{JANUS_PORTS[0]}",
         "--janus-admin-key", JANUS_ADMIN_KEY, "--log-file", str(tmp_path / "demo.log")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    events = Events(demo)
    events.until(lambda e: e["event"] == "level" and e["room"] == "show" and e["heard"]
                 and e["dbfs"] > -40)  # fmt: skip
    ring = events.until(lambda e: e["event"] == "ring")
    events.send("accept")
    suspended = events.until(lambda e: e["event"] == "suspended" and e["room"] == "show")
    left = events.until(lambda e: e["event"] == "left" and e["room"] == "one-to-one")
    resumed = events.until(lambda e: e["event"] == "resumed" and e["room"] == "show")
    events.until(lambda e: e["event"] == "level" and e["t"] > resumed["t"] + 3)  # type: ignore[operator]
    events.send("quit")
    bye = events.until(lambda e: e["event"] == "bye")
    assert demo.wait(timeout=30) == 0
    audio = read_wav(wav)
    start = float(bye["t"]) - audio.size / 48_000  # type: ignore[arg-type]

    def window(a: object, b: object):  # type: ignore[no-untyped-def]
        return audio[int((float(a) - start) * 48_000) : int((float(b) - start) * 48_000)]  # type: ignore[arg-type]

    assert ring["caller"] == "friend"
    assert band_level_db(window(float(ring["t"]) - 1.5, float(ring["t"]) - 0.2), 440) > -30  # type: ignore[arg-type]
    during = window(float(suspended["t"]) + 0.8, float(left["t"]) - 0.3)  # type: ignore[arg-type]
    assert band_level_db(during, 440) < -60, "the show must be silent during the 1:1"
    after = window(float(resumed["t"]) + 1.0, float(resumed["t"]) + 2.5)  # type: ignore[arg-type]
    assert band_level_db(after, 440) > -30, "the show should come back after the 1:1"


async def test_a_restarted_janus_instance_carries_every_call_again(
    janus_sfu_lab,
    tmp_path_factory,  # type: ignore[no-untyped-def]
) -> None:
    """The only Janus instance is killed (SIGKILL) and started again on the same port half a
    second later, ten times: each time the call says it is reconnecting, the listener hears the
    talker again (1.1-1.2 s after the new Janus started, measured), and nobody left. Before,
    each client's retry could make its own room record while the instance was down, so the
    talker published into one Janus room and the listener subscribed in another."""
    lab = janus_sfu_lab
    folder = tmp_path_factory.mktemp("janus8191")
    janus = janus_lab.start(lab, folder, 8191, JANUS_ADMIN_KEY)
    url = f"ws://{SERVER_IP}:8191"
    times: list[float] = []
    with janus_lab.inside(lab.client_ns):
        server = await start_server(SECRET, "127.0.0.1", 0, sfu=JanusSfu([url], JANUS_ADMIN_KEY))
        clients: list[Client] = []
        try:
            ear = await talker_and_ear(server.url, "phoenix", clients)
            await hearing(ear, "talker")
            departures: list[int] = []
            ear.state.observe("participants").listen(
                lambda people: departures.append(1) if len(people) < 2 else None
            )
            states: list[str] = []
            ear.state.observe("connection").listen(lambda c: states.append(c.value))
            for _ in range(10):
                janus.send_signal(signal.SIGKILL)
                janus.wait(timeout=5)
                killed = asyncio.get_running_loop().time()
                await hearing(ear, "talker", yes=False)
                await asyncio.sleep(0.5)
                janus = janus_lab.start(lab, folder, 8191, JANUS_ADMIN_KEY)
                await hearing(ear, "talker")
                times.append(asyncio.get_running_loop().time() - killed - 0.5)
            print(f"audio back after each restart: {[round(t, 1) for t in times]} s")
            assert departures == []
            # each loss said so (the call went reconnecting) and each recovery too
            assert states.count("reconnecting") == 10 and states[-1] == "joined", states
            assert all(call.state.connection.value == "joined" for c in clients
                       for call in c.state.active_calls)  # fmt: skip
        finally:
            for client in clients:
                await client.disconnect()
            await server.stop()
            janus.kill()
            janus.wait(timeout=5)
