"""Real PortAudio through a virtual JACK device, and every way a device can be missing."""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import sys

import pytest

from helpers import wait_until
from mctui import (
    AudioConfigurationPolicy,
    CallType,
    Client,
    ClientOptions,
    MultiCallAudioPolicy,
    User,
)
from mctui.audio.backends import NullBackend
from mctui.audio.devices import resolve_backend
from mctui.server.tokens import issue_token
from spectrum import band_level_db
from testbed import SECRET

#: What this module needs of the lab (conftest.py: the tiers).
pytestmark = pytest.mark.jack


def _client(url: str, device: object, policy=MultiCallAudioPolicy.MANUAL) -> Client:
    return Client(
        url,
        User("user"),
        issue_token(SECRET, "user"),
        ClientOptions(
            multi_call_audio_policy=policy,
            audio_device=device,  # type: ignore[arg-type]
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        ),
    )


async def test_playout_comes_back_through_the_portaudio_input(jack_server, sfu_server, bots):
    from mctui.audio.sounddevice_backend import SoundDeviceBackend

    await bots("singer", 440, "stage")
    listener = await bots("listener", None, "booth")
    user = _client(sfu_server.url, SoundDeviceBackend())
    await user.connect()
    try:
        stage = user.make_call(CallType.DEFAULT, "stage")
        booth = user.make_call(CallType.DEFAULT, "booth")
        await stage.join()
        await booth.join()
        assert user.audio.backend.name == "sounddevice", user.state.audio_notice
        outs = [p for p in jack_server.ports() if p.startswith("PortAudio") and "out" in p]
        ins = [p for p in jack_server.ports() if p.startswith("PortAudio") and "in" in p]
        assert outs and ins, jack_server.ports()
        await asyncio.sleep(1.0)
        before = band_level_db(listener.heard(0.5), 440)
        assert before < -60, "the booth hears the stage before the device loop exists"
        # Speaker -> microphone: the stage's playout re-enters as the user's mic, which the
        # MANUAL policy sends to the booth, where only the listener bot is.
        jack_server.connect(outs[0], ins[0])
        await wait_until(
            booth.state,
            "participants",
            lambda ps: any(p.is_local and p.audio_level > -30 for p in ps),
            timeout=10,
        )
        await asyncio.sleep(1.5)
        heard = listener.heard(1.0)
        assert band_level_db(heard, 440) > -30  # only the PortAudio loop can carry it there
        assert band_level_db(heard, 440) > before + 30
    finally:
        await user.disconnect()


async def test_device_disappearing_mid_call_falls_back_to_null(sfu_server, bots):
    import json
    import os
    import shutil
    from pathlib import Path

    if shutil.which("jackd") is None:
        if os.environ.get("CI"):
            pytest.fail("the virtual audio device must start in CI: jackd is missing")
        pytest.skip("virtual audio device unavailable: jackd is missing")
    await bots("talker", 440, "room")
    probe = Path(__file__).parents[1] / "support" / "device_loss_probe.py"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(probe),
        sfu_server.url,
        SECRET,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(probe.parent),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen["before"] == "sounddevice"
    assert "stopped" in seen["notice"] and "null device" in seen["notice"]
    assert seen["null"] and seen["clock_runs"]
    assert seen["connection"] == "joined" and "talker" in seen["participants"]


async def test_device_that_fails_to_open_falls_back(sfu_server):
    from mctui.audio.sounddevice_backend import SoundDeviceBackend

    user = _client(sfu_server.url, SoundDeviceBackend("no-such-mic", "no-such-speaker"))
    await user.connect()
    try:
        call = user.make_call(CallType.DEFAULT, "quiet")
        await call.join()
        assert isinstance(user.audio.backend, NullBackend)
        notice = user.state.audio_notice
        assert notice is not None and "null device" in notice and "\n" not in notice
        assert call.state.connection == "joined"
    finally:
        await user.disconnect()


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes ``import sounddevice`` fail the way it does without libportaudio2."""

    def find_spec(self, name, path, target=None):  # type: ignore[no-untyped-def]
        if name == "sounddevice":
            return importlib.machinery.ModuleSpec(name, self)  # type: ignore[arg-type]
        return None

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        raise OSError("PortAudio library not found")

    def exec_module(self, module):  # type: ignore[no-untyped-def]
        raise AssertionError("unreachable")


async def test_missing_portaudio_gives_message_and_null_device(monkeypatch, server):
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    backend = resolve_backend("auto")
    assert isinstance(backend, NullBackend)
    assert backend.notice is not None and "PortAudio is not available" in backend.notice
    user = _client(server.url, "auto")
    await user.connect()
    try:
        call = user.make_call(CallType.DEFAULT, "no-portaudio")
        await call.join()
        assert "PortAudio" in (user.state.audio_notice or "")
        assert call.state.connection == "joined"
    finally:
        await user.disconnect()


def test_no_device_gives_message_and_null_device(monkeypatch):
    import sounddevice as sd

    def no_device(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", no_device)
    backend = resolve_backend("auto")
    assert isinstance(backend, NullBackend)
    assert backend.notice is not None and backend.notice.startswith("no audio device")


async def test_choosing_a_device_mid_call_reopens_it_within_200_ms(jack_server, sfu_server, bots):
    """``client.audio.set_devices`` closes the streams and opens the chosen device on the same
    mixer: the call never leaves, PortAudio's ports come back in the JACK graph, and the device
    clock stops for at most 200 ms. A device that does not exist changes nothing."""
    from mctui.audio.sounddevice_backend import SoundDeviceBackend
    from mctui.errors import NoAudioDeviceError

    await bots("singer", 440, "stage")
    user = _client(sfu_server.url, SoundDeviceBackend())
    await user.connect()
    try:
        stage = user.make_call(CallType.DEFAULT, "stage")
        await stage.join()
        before = user.audio.backend
        assert before.name == "sounddevice", user.state.audio_notice
        await asyncio.sleep(0.5)  # the device's clock runs
        with pytest.raises(NoAudioDeviceError, match="no output device matches"):
            await user.audio.set_devices(output="no such device")  # asks a fresh PortAudio
        assert user.audio.backend is before  # nothing closed
        assert isinstance(before, SoundDeviceBackend) and not before.closed
        await user.audio.set_devices(input="system", output="system")
        after = user.audio.backend
        assert after is not before and after.name == "sounddevice"
        await wait_until(user.state, "audio_notice", lambda n: n and "audio device: in" in n)
        frames = user.audio.frames
        await asyncio.sleep(0.5)
        assert user.audio.frames > frames + 15  # the new device's clock drives the mixer
        gap = user.audio.last_switch_gap_ms
        print(f"device switch: {gap:.0f} ms without a device frame")
        assert gap is not None and gap <= 200
        assert any(p.startswith("PortAudio") for p in jack_server.ports())
        assert stage.state.connection.value == "joined"
        assert any(p.user.id == "singer" and p.audio_level > -40 for p in stage.state.participants)
    finally:
        await user.disconnect()


async def test_the_device_dialog_lists_jacks_device_and_moves_the_call_onto_it(
    jack_server, sfu_server, bots
):
    """A user who started on the null device presses d: the dialog lists what a fresh
    PortAudio sees (JACK's ``system``, both ways); Enter on the microphone moves the session
    onto it, mid-call, and the room is still joined."""
    from mctui.tui.app import MctuiApp
    from mctui.tui.screens.devices import DeviceScreen

    await bots("singer", 440, "stage")
    client = _client(sfu_server.url, "null")
    ready = asyncio.Event()

    async def connect() -> Client:
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    app = MctuiApp(connect, ["stage"], on_ready=on_ready)
    async with app.run_test(size=(100, 30)) as pilot:
        async with asyncio.timeout(15):
            await ready.wait()
        assert client.audio.backend.name == "null"
        await pilot.press("d")
        async with asyncio.timeout(15):
            while not isinstance(app.screen, DeviceScreen):
                await pilot.pause(0.05)
        dialog = app.screen
        assert [d["name"] for d in dialog.devices] == ["system"]
        await pilot.press("enter")  # the microphone list has the focus: its first device
        async with asyncio.timeout(10):
            while client.audio.backend.name != "sounddevice":
                await pilot.pause(0.05)
        assert getattr(client.audio.backend, "input_device", None) == "system"
        assert client.state.active_calls[0].state.connection.value == "joined"
        await pilot.press("q")


async def test_the_chosen_device_is_taken_back_when_it_appears(sfu_server, bots):
    """mctui starts while its device is missing (the JACK server is not up): the null device
    and a notice, the call joins. The server starts: within a few seconds the session is on
    the real device again, by itself, and the call never left."""
    import os

    from jack import JackServer
    from mctui.audio.backends import NullBackend as Null
    from mctui.audio.session import RETURN_POLL_S
    from mctui.audio.sounddevice_backend import SoundDeviceBackend, refresh_devices

    await bots("singer", 440, "stage")
    jack = JackServer()  # named, not started yet
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    refresh_devices()  # this process's PortAudio: no JACK server, no device
    user = _client(sfu_server.url, SoundDeviceBackend())
    await user.connect()
    try:
        stage = user.make_call(CallType.DEFAULT, "stage")
        await stage.join()
        await wait_until(user.state, "audio_notice", lambda n: n and "null device" in n)
        assert isinstance(user.audio.backend, Null)
        jack.start()
        await wait_until(
            user.state, "audio_notice", lambda n: n and "audio device: in" in n,
            timeout=RETURN_POLL_S * 3 + 10,
        )  # fmt: skip
        assert user.audio.backend.name == "sounddevice"
        frames = user.audio.frames
        await asyncio.sleep(0.5)
        assert user.audio.frames > frames + 15  # the device's clock drives the mix again
        assert stage.state.connection.value == "joined"
    finally:
        await user.disconnect()  # PortAudio leaves the JACK server while it is still up
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        refresh_devices()
        jack.stop()
