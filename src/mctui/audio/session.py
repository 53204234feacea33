"""The client's one ``AudioSession``: the shared device, capture fan-out and the speaker mixer.

Calls never open devices themselves. Each call's ADM claims holds here; every device frame the
session mixes the playout of each ADM holding the speaker at its gain (the user's volume for the
room, then the policy's: a ducked call plays at its duck gain) and gives the microphone frame to
each ADM holding the mic. Under ``MANUAL`` two calls can hold both at once and really share them.

The mic is cleaned once, here, by one ``VoiceProcessor`` (WebRTC's APM: echo canceller, noise
suppressor, gain control) for every call whose policy wants voice processing; the others get the
device's frame as it is. The echo canceller's far end is the very mix returned to the device,
fed every frame in step with the device clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mctui.audio.adm import AudioDeviceModule
from mctui.audio.apm import ApmUnavailableError, VoiceProcessor
from mctui.audio.backends import AudioBackend, NullBackend
from mctui.audio.channels import to_stereo
from mctui.audio.config import FRAME_SAMPLES, AudioConfigurationPolicy, Frame
from mctui.audio.pan import pan_gains
from mctui.audio.replay import REPLAY_DUCK_DB, ReplayPlayer
from mctui.audio.ringer import Ringer

HoldListener = Callable[["AudioSession"], None]
#: How often a session on the null device asks whether the chosen device is back.
RETURN_POLL_S = 2.0


def describe(backend: AudioBackend) -> str:
    """The device in use, for a person: ``in 'USB' / out default``, or the backend's name."""
    if not hasattr(backend, "input_device"):
        return backend.name

    def name(device: object) -> str:
        return "default" if device is None else repr(device)

    return f"in {name(getattr(backend, 'input_device', None))} / out " + name(
        getattr(backend, "output_device", None)
    )


@dataclass(frozen=True)
class AudioState:
    """``client.audio.state``: what the session runs now (read, derived each time)."""

    #: ``on`` while the mic's echo canceller runs, or will for the first call that wants it.
    echo_cancellation: Literal["on", "off"]
    #: The devices in use, for a person (``describe``).
    devices: str


_REPLAY_DUCK = np.float32(10 ** (REPLAY_DUCK_DB / 20))


def _channel_gains(gain: float, pan: float) -> np.float32 | np.ndarray:
    """The gain of a room at ``gain`` placed at ``pan`` (``audio.pan``): one for both channels
    in the centre, else a left and a right one."""
    if pan == 0.0:
        return np.float32(gain)
    left, right = pan_gains(pan)
    return np.array([gain * left, gain * right], dtype=np.float32)


class AudioSession:
    """Owns the device backend and arbitrates it between the calls' ADMs."""

    def __init__(self, backend: AudioBackend, echo_cancellation: bool = True) -> None:
        self.backend = backend
        self.echo_cancellation = echo_cancellation
        #: Made at the first call that wants voice processing (its import costs ~0.25 s).
        self.voice: VoiceProcessor | None = None
        #: Why there is no voice processing although a call wants it (no ``livekit`` wheel).
        self.voice_unavailable: str | None = None
        self.adms: list[AudioDeviceModule] = []
        #: Set while an incoming call rings: its tone goes to the speaker, never to a mic.
        self.ringer: Ringer | None = None
        #: Set while a room's replay plays: the live rooms duck under it.
        self.replay: ReplayPlayer | None = None
        self._hold_listeners: list[HoldListener] = []
        self._frame_listeners: list[tuple[int, Callable[[], None]]] = []
        self._notice_listeners: list[Callable[[str], None]] = []
        self._error_listeners: list[Callable[[str], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: Waits for the user's device after a fall back to the null device.
        self._watcher: asyncio.Task[None] | None = None
        self.frames = 0
        #: Loop time of the last device frame, and how long the last device switch left
        #: without one (``set_devices``; ms).
        self._last_frame_at = 0.0
        self._switched = False
        self.last_switch_gap_ms: float | None = None
        self._started = False
        self.closed = False

    @property
    def state(self) -> AudioState:
        if self.voice is not None:
            on = self.voice.echo_cancellation
        else:
            on = self.echo_cancellation and self.voice_unavailable is None
        return AudioState("on" if on else "off", describe(self.backend))

    # --- ADMs and holds -----------------------------------------------------------------------

    def create_adm(self, name: str, config: AudioConfigurationPolicy) -> AudioDeviceModule:
        if config.voice_processing and self.voice is None and self.voice_unavailable is None:
            try:
                self.voice = VoiceProcessor(self.echo_cancellation)
            except ApmUnavailableError as exc:
                self.voice_unavailable = str(exc)
                self._notify(f"{exc}: the microphone is sent unprocessed")
        adm = AudioDeviceModule(name, config, self._holds_changed)
        self.adms.append(adm)
        return adm

    def remove_adm(self, adm: AudioDeviceModule) -> None:
        adm.close()
        if adm in self.adms:
            self.adms.remove(adm)

    def add_hold_listener(self, listener: HoldListener) -> Callable[[], None]:
        """Be told after every hold change (tests use it to prove no overlap); returns an undo."""
        self._hold_listeners.append(listener)
        return lambda: self._hold_listeners.remove(listener)

    def _holds_changed(self, adm: AudioDeviceModule) -> None:
        for listener in list(self._hold_listeners):
            listener(self)

    def add_frame_listener(self, listener: Callable[[], None], every: int = 1) -> None:
        """Call ``listener`` after every ``every`` device frames (level meters ride on this)."""
        self._frame_listeners.append((max(1, every), listener))

    @property
    def microphone_holders(self) -> list[AudioDeviceModule]:
        return [a for a in self.adms if a.holds_microphone]

    @property
    def speaker_holders(self) -> list[AudioDeviceModule]:
        return [a for a in self.adms if a.holds_speaker]

    # --- the device clock ---------------------------------------------------------------------

    def add_notice_listener(self, listener: Callable[[str], None]) -> None:
        """Be told (one line, for a person) when the device changes under the calls."""
        self._notice_listeners.append(listener)

    def add_error_listener(self, listener: Callable[[str], None]) -> None:
        """Be told when the device loses something the user asked for (a recording)."""
        self._error_listeners.append(listener)

    def _error(self, message: str) -> None:
        for listener in list(self._error_listeners):
            listener(message)

    def _notify(self, notice: str) -> None:
        for listener in list(self._notice_listeners):
            listener(notice)

    async def start(self) -> None:
        """Open the device at first use; if it cannot open, fall back to the null device."""
        if self._started or self.closed:
            return
        self._started = True
        self.backend.on_failure = self._backend_failed
        self.backend.on_error = self._error
        try:
            await self.backend.start(self.process)
        except Exception as exc:
            await self._fall_back(f"{exc}")
            return
        if self.backend.notice:
            self._notify(self.backend.notice)

    def _backend_failed(self, reason: str) -> None:
        if self.closed:
            return
        task = asyncio.get_running_loop().create_task(self._fall_back(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fall_back(self, reason: str) -> None:
        old = self.backend
        self.backend = NullBackend(notice=f"{reason}; using the null device")
        with contextlib.suppress(Exception):
            await old.close()
        if self.closed:
            return
        await self.backend.start(self.process)
        self._notify(self.backend.notice or reason)
        if hasattr(old, "input_device") and self._watcher is None:  # the user's PortAudio device
            chosen = (old.input_device, old.output_device)  # type: ignore[attr-defined]
            self._watcher = asyncio.get_running_loop().create_task(self._back_when_present(*chosen))

    async def _back_when_present(self, input: int | str | None, output: int | str | None) -> None:
        """Every ``RETURN_POLL_S``, ask a fresh PortAudio whether the chosen device is back
        (plugged in again, its server restarted); when it is, move onto it. Not after a device
        vanished under an open stream: PortAudio can no longer be restarted in this process."""
        from mctui.audio.sounddevice_backend import devices_present, portaudio_wedged

        try:
            while not self.closed and isinstance(self.backend, NullBackend):
                await asyncio.sleep(RETURN_POLL_S)
                if portaudio_wedged():
                    return
                if await devices_present(input, output) and isinstance(self.backend, NullBackend):
                    with contextlib.suppress(Exception):
                        await self.set_devices(input, output)
        finally:
            self._watcher = None

    def process(self, mic: Frame) -> Frame:
        """One device frame: fan the mic out to holders, return the speaker mix.

        ``mic`` is mono or stereo; the mix is always stereo ``(960, 2)`` (a mono call plays
        L = R), and each backend downmixes if its device is mono.
        """
        mix = np.zeros((FRAME_SAMPLES, 2), dtype=np.float32)
        stereo_out = self.backend.output_channels >= 2
        playouts = []
        for adm in self.adms:
            playout = adm.pull_playout()
            playouts.append(playout)
            if adm.holds_speaker:
                gain = adm.playout_gain
                if gain > 0.0:
                    mix += to_stereo(playout) * _channel_gains(gain, adm.pan if stereo_out else 0.0)
        if self.replay is not None:
            replayed = self.replay.frame()
            if replayed is None:
                self.replay = None
            else:
                mix *= _REPLAY_DUCK
                mix += replayed
        if self.ringer is not None:
            mix += self.ringer.frame()[:, None]
        np.clip(mix, -1.0, 1.0, out=mix)
        voice = self.voice
        cleaned: Frame | None = None
        if voice is not None:
            voice.render(mix)  # every frame: the canceller follows the room even in silence
            if any(a.holds_microphone and a.config.voice_processing for a in self.adms):
                voice.set_delay_ms(self.backend.echo_delay_ms())
                cleaned = voice.capture(mic)
        for adm, playout in zip(self.adms, playouts, strict=True):
            sent = cleaned if cleaned is not None and adm.config.voice_processing else mic
            kept = adm.holds_microphone and adm.push_capture(sent)
            adm.measure_mic(sent)
            if adm.tap is not None:
                adm.tap(playout, sent if kept else None)
        self.frames += 1
        now = time.monotonic()
        if self._switched:
            self._switched = False
            self.last_switch_gap_ms = (now - self._last_frame_at) * 1000.0
        self._last_frame_at = now
        for every, listener in self._frame_listeners:
            if self.frames % every == 0:
                listener()
        return mix

    async def set_devices(
        self, input: int | str | None = None, output: int | str | None = None
    ) -> None:
        """Move to these PortAudio devices (None: keep the one in use) without leaving any
        call: the new device is checked first (``NoAudioDeviceError`` leaves everything as it
        was), then the old streams close and the new ones open on the same mixer, echo
        canceller and calls. The gap is kept in ``last_switch_gap_ms``."""
        from mctui.audio.sounddevice_backend import (
            SoundDeviceBackend,
            choose_devices,
            refresh_devices,
        )

        choice = await choose_devices(self.backend, input, output)
        old = self.backend
        new = SoundDeviceBackend(choice.input_device, choice.output_device)
        self.backend = new
        if not self._started or self.closed:
            await self._close_quietly(old)
            if choice.rescan:
                await asyncio.to_thread(refresh_devices)
            return
        new.on_failure = self._backend_failed
        new.on_error = self._error
        made = False
        if not choice.rescan:
            try:  # make before break: the old device plays on while the new one opens
                await new.start(self.process)
                made = True
            except Exception:  # busy with our own old stream (a hardware device)
                pass
        old.detach()
        self._switched = True
        await self._close_quietly(old)
        if not made:  # break, then make: PortAudio must rescan (stopping our streams), or busy
            if choice.rescan:
                await asyncio.to_thread(refresh_devices)
            try:
                await new.start(self.process)
            except Exception as exc:
                await self._fall_back(f"{exc}")
                return
        self._notify(f"audio device: {describe(new)}")

    @staticmethod
    async def _close_quietly(backend: AudioBackend) -> None:
        with contextlib.suppress(Exception):
            await backend.close()

    async def ring(self, ringer: Ringer) -> None:
        """Play ``ringer`` on the speaker from its start (the device opens if no call has opened
        it yet), until ``stop_ring``."""
        self.ringer = ringer
        await self.start()

    def play_replay(self, player: ReplayPlayer) -> None:
        """Play ``player`` through the speaker from the next frame, the live rooms ducked
        under it; a replay already playing stops first (one speaker)."""
        self.stop_replay()
        self.replay = player

    def stop_replay(self) -> None:
        player, self.replay = self.replay, None
        if player is not None:
            player.end()

    def report_error(self, message: str) -> None:
        """Something the user asked for was lost, the audio goes on (a recording's disk)."""
        self._error(message)

    def stop_ring(self) -> None:
        self.ringer = None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for adm in list(self.adms):
            self.remove_adm(adm)
        for task in [*self._tasks, self._watcher]:
            if task is not None:
                task.cancel()
        await self.backend.close()
