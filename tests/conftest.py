"""Shared fixtures: a real coordinator on 127.0.0.1 (port 0) and clients connected to it.

The suite has three tiers, mirrored on ``src/``: ``unit/`` (no sockets, no processes: its own
conftest refuses both), ``integration/`` (real servers, clients and media on 127.0.0.1) and
``lab/`` (network namespaces, Janus, Chromium, JACK). Harnesses live in ``support/``, which is
put on ``sys.path`` here. Markers (``pyproject.toml``) select what needs what: ``netns``,
``janus``, ``browser``, ``jack``, ``slow``; ``make check`` runs what needs none of them.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).with_name("support")))

from mctui import AudioConfigurationPolicy, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.server.app import RunningServer, start_server
from mctui.server.tokens import issue_token
from testbed import JANUS, JANUS_ADMIN_KEY, JANUS_PORTS, SECRET, connected_client

ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture(autouse=True)
def _pilot_idle_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's Pilot waits after each key until the process looks idle (under 1 ms of CPU per
    20 ms), else for a full second, twice. A voice client is never that idle: its audio clock
    ticks every 20 ms. Tests wait for the engine state they assert on, so let Pilot treat
    "under 10 ms per 20 ms" as idle (each key press: 2 s -> about 40 ms)."""
    import textual._wait

    monkeypatch.setattr(textual._wait, "SLEEP_IDLE", 0.01)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=2.0)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def make_client(server: RunningServer) -> AsyncIterator[ClientFactory]:
    clients: list[Client] = []

    async def factory(
        user_id: str,
        policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING,
        **options: object,
    ) -> Client:
        opts = ClientOptions(multi_call_audio_policy=policy, audio_device="memory")
        return await connected_client(server.url, user_id, opts, options, clients)

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()


#: What each lab fixture needs, as markers: a test that uses the fixture carries them.
FIXTURE_MARKERS = {"janus_sfu_lab": ("janus", "netns"), "jack_server": ("jack",)}
LAB_MARKERS = {"netns", "janus", "browser", "jack"}
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with what its fixtures need, and hold the tiers to their rules: a lab
    test says which part of the lab it needs, and unit and integration tests need none."""
    for item in items:
        for fixture, markers in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                for marker in markers:
                    item.add_marker(marker)
        tier = item.path.relative_to(TESTS).parts[0]
        needs = {m.name for m in item.iter_markers()} & LAB_MARKERS
        if needs:  # one worker runs the lab (one Janus pair, one JACK server at a time)
            item.add_marker(pytest.mark.xdist_group("lab"))
        if tier == "lab" and not needs:
            raise pytest.UsageError(
                f"{item.nodeid}: a lab test names what it needs ({LAB_MARKERS})"
            )
        if tier == "unit" and needs:
            raise pytest.UsageError(f"{item.nodeid}: a unit test needs {needs}; move it to lab/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_sfus`` run once on the embedded SFU and once on Janus."""
    if metafunc.definition.get_closest_marker("both_sfus") is not None:
        metafunc.parametrize("sfu_server", ["embedded", JANUS], indirect=True)


@pytest.fixture(scope="session")
def janus_sfu_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Two real Janus instances in a NetLab's server namespace, for the whole session (they
    hold no state between tests: every call gets its own room)."""
    import janus_lab
    import netlab

    for why in (netlab.available(), janus_lab.available()):
        if why is not None:
            pytest.fail(f"the Janus tests cannot run here: {why}")
    lab = netlab.NetLab().start()
    try:
        for port in JANUS_PORTS:
            janus_lab.start(lab, tmp_path_factory.mktemp(f"janus{port}"), port, JANUS_ADMIN_KEY)
        yield lab
    finally:
        lab.stop()
        assert netlab.namespaces_left(lab) == []


@pytest.fixture
async def sfu_server(request: pytest.FixtureRequest) -> AsyncIterator[RunningServer]:
    """The coordinator with an SFU: the embedded one, or (parametrized ``janus``) two Janus
    instances, with this test's loop moved into the lab's clients' namespace so its clients
    reach Janus. Checks no peer connection or SFU task is left."""
    import asyncio
    import contextlib

    from mctui.rtc.peer import open_peer_connections
    from mctui.server.embedded_sfu import EmbeddedSfu

    kind = getattr(request, "param", "embedded")
    with contextlib.ExitStack() as stack:
        if kind == "janus":
            import janus_lab
            from mctui.server.janus_sfu import JanusSfu
            from netlab import SERVER_IP

            lab = request.getfixturevalue("janus_sfu_lab")
            stack.enter_context(janus_lab.inside(lab.client_ns))
            urls = [f"ws://{SERVER_IP}:{port}" for port in JANUS_PORTS]
            sfu: object = JanusSfu(urls, JANUS_ADMIN_KEY)
        else:
            sfu = EmbeddedSfu()
        running = await start_server(SECRET, "127.0.0.1", 0, ring_timeout=2.0, sfu=sfu)  # type: ignore[arg-type]
        try:
            yield running
        finally:
            await running.stop()
        await asyncio.sleep(0)
        assert open_peer_connections() == [], "a peer connection was left open"
        leftover = [
            t.get_name()
            for t in asyncio.all_tasks()
            if t.get_name().startswith(("sfu-", "rtc-", "audio-", "signaling-", "janus-"))
            and not t.done()
        ]
        assert leftover == [], f"tasks left running: {leftover}"


@pytest.fixture
async def media_client(sfu_server: RunningServer) -> AsyncIterator[ClientFactory]:
    """Clients of the SFU server, each with a memory audio device playing a tone (or silence)."""
    from mctui.audio.backends import MemoryBackend
    from mctui.bots.signals import tone

    clients: list[Client] = []

    async def factory(
        user_id: str,
        tone_hz: float | None = None,
        policy: MultiCallAudioPolicy = MultiCallAudioPolicy.SUSPEND_EXISTING,
        **options: object,
    ) -> Client:
        signal = tone(tone_hz) if tone_hz is not None else None
        # Tones stand in for voices: "hifi" skips the voice chain, whose noise suppression
        # rightly removes steady tones.
        opts = ClientOptions(
            multi_call_audio_policy=policy,
            audio_device=MemoryBackend(signal),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        )
        return await connected_client(sfu_server.url, user_id, opts, options, clients)

    try:
        yield factory
    finally:
        for client in clients:
            await client.disconnect()


@pytest.fixture
def jack_server():  # type: ignore[no-untyped-def]
    """A running JACK dummy server that PortAudio sees.

    ``make test`` installs jackd2, so where ``jackd`` exists a server that cannot start fails the
    test; only a bare ``pytest`` on a machine without jackd skips (and says so).
    """
    import os
    import shutil

    from jack import JackServer
    from mctui.audio.sounddevice_backend import refresh_devices

    server = JackServer()
    try:
        server.start()
    except RuntimeError as exc:
        if os.environ.get("CI") or shutil.which("jackd") is not None:
            pytest.fail(f"the virtual audio device (jackd, installed) did not start: {exc}")
        pytest.skip(f"jackd is not installed (make test installs it): {exc}")
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    refresh_devices()
    try:
        yield server
    finally:
        # Let PortAudio leave the JACK server while it is still up, then stop the server.
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        refresh_devices()
        server.stop()


@pytest.fixture
async def bots(sfu_server: RunningServer) -> AsyncIterator[Callable[..., Awaitable[object]]]:
    """Start bots (real participants) in rooms of the SFU server.

    ``await bots("id", 440, "room")`` plays a 440 Hz tone; ``None`` makes a silent listener.
    """
    from mctui.bots import Bot

    started: list[Bot] = []

    async def factory(user_id: str, hz: float | None, room: str, **kw: object) -> Bot:
        token = issue_token(SECRET, user_id)
        user = User(user_id, user_id.title())
        if hz is None:
            bot = Bot(sfu_server.url, user, token, None, room=room, **kw)  # type: ignore[arg-type]
        else:
            bot = Bot.with_tone(sfu_server.url, user, token, hz, room, **kw)  # type: ignore[arg-type]
        await bot.start()
        started.append(bot)
        return bot

    try:
        yield factory
    finally:
        for bot in started:
            await bot.stop()
