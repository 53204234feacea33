"""The PortAudio backend (sounddevice): one input stream and one output stream.

PortAudio calls our callbacks on its own thread. They never block and never touch asyncio objects:
the input callback copies the block into a bounded deque and wakes the loop with
``call_soon_threadsafe``; the loop runs the session's ``process`` and appends the speaker frame to
another bounded deque that the output callback drains (silence on underrun). With no input device,
the output callback's clock drives processing instead.

A device that fails to open, or stops delivering callbacks mid-call (unplugged, server gone), is
reported through ``on_failure``; the session then switches to the null device and the calls go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from mctui.audio.backends import AudioBackend, NullBackend, ProcessFn
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE
from mctui.audio.portaudio_private import rescan_devices, skip_terminate_at_exit
from mctui.errors import NoAudioDeviceError

log = logging.getLogger(__name__)

QUEUE_FRAMES = 8
WATCHDOG_S = 1.0

#: Set once a device vanished under an open stream. PortAudio's calls on such a stream (abort,
#: close, terminate) can block forever (seen with JACK), so from then on mctui leaves PortAudio
#: alone: streams are closed on a daemon thread and PortAudio is not terminated at exit.
_portaudio_wedged = False


def load_sounddevice() -> Any:
    """Import sounddevice; PortAudio missing raises ``NoAudioDeviceError`` with the reason."""
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio shared library is not installed
        raise NoAudioDeviceError(f"PortAudio is not available ({exc})") from exc
    return sounddevice


def refresh_devices() -> None:
    """Re-scan devices: PortAudio only sees devices (and JACK servers) present at init."""
    sd = load_sounddevice()
    if _portaudio_wedged:
        return
    try:
        rescan_devices(sd)
    except sd.PortAudioError as exc:  # no usable host API now: the device list says so
        log.warning("re-scanning audio devices failed: %s", exc)


def describe_devices() -> tuple[list[dict[str, Any]], int | None, int | None]:
    """Every device PortAudio knows, and the default input and output indices."""
    sd = load_sounddevice()
    devices = [dict(d) for d in sd.query_devices()]
    default_in, default_out = sd.default.device
    return (
        devices,
        default_in if isinstance(default_in, int) and default_in >= 0 else None,
        default_out if isinstance(default_out, int) and default_out >= 0 else None,
    )


class SoundDeviceBackend(AudioBackend):
    """The real device through PortAudio."""

    name = "sounddevice"

    def __init__(
        self, input_device: int | str | None = None, output_device: int | str | None = None
    ):
        self.input_device = input_device
        self.output_device = output_device
        self._sd = load_sounddevice()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: ProcessFn | None = None
        self._input: Any = None
        self._output: Any = None
        self._mic: deque[np.ndarray] = deque(maxlen=QUEUE_FRAMES)
        self._speaker: deque[np.ndarray] = deque(maxlen=QUEUE_FRAMES)
        self._wake_pending = threading.Event()
        self._last_callback = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self.underruns = 0
        self.input_channels = 1
        self.output_channels = 1
        self._device_lost = False
        self.frames_processed = 0
        self.closed = False

    async def start(self, process: ProcessFn) -> None:
        self._loop = asyncio.get_running_loop()
        self._process = process
        sd = self._sd
        errors: list[str] = []
        self.output_channels = _channels(sd, self.output_device, "output")
        self.input_channels = _channels(sd, self.input_device, "input")
        # PortAudio opens, starts and closes streams synchronously (a JACK client takes ~0.1 s
        # each): on a worker thread, so the loop (and another device's frames) never waits.
        await asyncio.to_thread(self._open_streams, sd, errors)
        if self._output is None and self._input is None:
            raise NoAudioDeviceError("no audio device could be opened (" + "; ".join(errors) + ")")
        if errors:
            self.notice = "audio device partly unavailable: " + "; ".join(errors)
        self._last_callback = self._loop.time()
        self._arm_watchdog()

    def _open_streams(self, sd: Any, errors: list[str]) -> None:
        """Open both streams, then start them (the callbacks see both from the first one)."""
        self._output = _open_stream(
            sd.OutputStream, self.output_device, self.output_channels, self._output_callback,
            "output", errors,
        )  # fmt: skip
        self._input = _open_stream(
            sd.InputStream, self.input_device, self.input_channels, self._input_callback,
            "input", errors,
        )  # fmt: skip
        for stream in (self._output, self._input):
            if stream is not None:
                stream.start()

    def detach(self) -> None:
        """The session moved to another device: frames still arriving here are dropped."""
        self._process = None

    def echo_delay_ms(self) -> float:
        """The frames queued for the output, plus both streams' reported latencies."""
        latency = sum(
            float(stream.latency) for stream in (self._output, self._input) if stream is not None
        )
        return (latency + len(self._speaker) * FRAME_SAMPLES / SAMPLE_RATE) * 1000.0

    # --- PortAudio thread ---------------------------------------------------------------------

    def _input_callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        self._mic.append(indata.copy() if indata.shape[1] == 2 else indata[:, 0].copy())
        self._wake()

    def _output_callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if self._speaker:
            block = self._speaker.popleft()  # (960, 2) from the session's mixer
            if outdata.shape[1] == 1:
                block = block.mean(axis=1, keepdims=True)
            rows = min(frames, block.shape[0])
            outdata[:rows] = block[:rows, : outdata.shape[1]]
            outdata[rows:] = 0.0
        else:
            outdata.fill(0.0)
            self.underruns += 1
        if self._input is None:
            self._mic.append(np.zeros(FRAME_SAMPLES, dtype=np.float32))
            self._wake()

    def _wake(self) -> None:
        loop = self._loop
        if loop is None or self._wake_pending.is_set():
            return
        self._wake_pending.set()
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._drain)

    # --- loop thread --------------------------------------------------------------------------

    def _drain(self) -> None:
        self._wake_pending.clear()
        assert self._loop is not None
        self._last_callback = self._loop.time()
        process = self._process
        while self._mic and process is not None and not self.closed:
            mic = self._mic.popleft()
            if mic.shape[0] != FRAME_SAMPLES:
                mic = np.resize(mic, (FRAME_SAMPLES, *mic.shape[1:]))
            self._speaker.append(process(mic))
            self.frames_processed += 1

    def _arm_watchdog(self) -> None:
        assert self._loop is not None
        self._watchdog = self._loop.call_later(WATCHDOG_S, self._check_alive)

    def _check_alive(self) -> None:
        if self.closed or self._loop is None:
            return
        silent_for = self._loop.time() - self._last_callback
        if silent_for > WATCHDOG_S:
            self._fail(f"the audio device stopped ({silent_for:.1f} s without audio)")
            return
        self._arm_watchdog()

    def _fail(self, reason: str) -> None:
        global _portaudio_wedged
        log.warning("%s; switching to the null device", reason)
        self._device_lost = True
        _portaudio_wedged = True
        skip_terminate_at_exit(self._sd)
        if self.on_failure is not None:
            self.on_failure(reason)

    async def close(self) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        streams = [s for s in (self._input, self._output) if s is not None]
        self._input = self._output = None
        if self._device_lost:
            threading.Thread(target=_close_streams, args=(streams,), daemon=True).start()
        else:
            await asyncio.to_thread(_close_streams, streams)


def _open_stream(
    stream_class: Any,
    device: int | str | None,
    channels: int,
    callback: Any,
    kind: str,
    errors: list[str],
) -> Any:
    """One PortAudio stream of one 20 ms frame per callback, or None with the reason noted."""
    try:
        return stream_class(
            samplerate=SAMPLE_RATE,
            blocksize=FRAME_SAMPLES,
            channels=channels,
            dtype="float32",
            device=device,
            callback=callback,
        )
    except Exception as exc:
        errors.append(f"{kind}: {exc}")
        return None


def _channels(sd: Any, device: int | str | None, kind: str) -> int:
    """Stereo when the device has two channels or more, else mono."""
    try:
        info = sd.query_devices(device, kind)
    except Exception:  # the stream's own open reports the real problem
        return 1
    return 2 if int(info.get(f"max_{kind}_channels", 1)) >= 2 else 1


def _close_streams(streams: list[Any]) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.abort()
            stream.close()


@dataclass(frozen=True)
class DeviceChoice:
    """The devices to move to, and whether this process's PortAudio must rescan to see them
    (which stops the streams in use: a break before the make)."""

    input_device: int | str | None
    output_device: int | str | None
    rescan: bool


#: A fresh PortAudio in a child process: what is plugged in now, without touching our streams.
_PROBE = "import json, sounddevice as sd; print(json.dumps([dict(d) for d in sd.query_devices()]))"


async def fresh_devices() -> list[dict[str, Any]]:
    """Every device a freshly started PortAudio sees (a headset plugged in after this process
    started PortAudio), listed by a short child process; [] if it cannot tell."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PROBE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return []
    if proc.returncode != 0:
        return []
    found: list[dict[str, Any]] = json.loads(out)
    return found


def portaudio_wedged() -> bool:
    """True once a device vanished under an open stream: PortAudio is left alone from then."""
    return _portaudio_wedged


async def devices_present(input_device: int | str | None, output_device: int | str | None) -> bool:
    """Whether a fresh PortAudio sees these devices now (None: any device of that kind)."""
    plugged = await fresh_devices()
    wanted = ((input_device, "input"), (output_device, "output"))
    return all(_present(plugged, device, kind) for device, kind in wanted)


def _present(plugged: list[dict[str, Any]], device: int | str | None, kind: str) -> bool:
    if device is None:
        return any(int(d.get(f"max_{kind}_channels", 0)) > 0 for d in plugged)
    return matches(plugged, device, kind)


def matches(devices: list[dict[str, Any]], device: int | str, kind: str) -> bool:
    """Whether ``device`` (an index, or a name or part of one, any case) names a device with
    ``kind`` channels in ``devices``, as sounddevice would find it."""
    channels = f"max_{kind}_channels"
    usable = [d for d in devices if int(d.get(channels, 0)) > 0]
    if isinstance(device, int):
        return any(int(d.get("index", -1)) == device for d in usable)
    return any(device.lower() in str(d.get("name", "")).lower() for d in usable)


async def choose_devices(
    current: AudioBackend, input_device: int | str | None, output_device: int | str | None
) -> DeviceChoice:
    """The devices for ``set_devices`` (None: the one in use now, else the default), checked
    before anything is closed: one that no PortAudio sees, or PortAudio stuck after a device
    vanished, raises ``NoAudioDeviceError``."""
    if _portaudio_wedged:
        raise NoAudioDeviceError(
            "PortAudio stopped answering after a device vanished: restart mctui to choose one"
        )
    sd = load_sounddevice()
    if input_device is None:
        input_device = getattr(current, "input_device", None)
    if output_device is None:
        output_device = getattr(current, "output_device", None)
    wanted = ((input_device, "input"), (output_device, "output"))
    if all(_known(sd, d, kind) for d, kind in wanted):  # None: there is a default one
        return DeviceChoice(input_device, output_device, rescan=False)
    plugged = await fresh_devices()
    missing = [
        f"no {kind} device matches {d!r}" if d is not None else f"no {kind} device at all"
        for d, kind in wanted
        if not _present(plugged, d, kind)
    ]
    if missing:
        raise NoAudioDeviceError("; ".join(missing) + " (see mctui devices)")
    return DeviceChoice(input_device, output_device, rescan=True)


def _known(sd: Any, device: int | str | None, kind: str) -> bool:
    try:
        sd.query_devices(device, kind)
    except (ValueError, sd.PortAudioError):
        return False
    return True


def open_default_sounddevice(
    input_device: int | str | None = None, output_device: int | str | None = None
) -> AudioBackend:
    """The PortAudio backend if a device exists, else the null backend with a one-line reason."""
    try:
        sd = load_sounddevice()
    except NoAudioDeviceError as exc:
        return NullBackend(notice=f"{exc}; using the null device")
    try:
        if output_device is None and input_device is None:
            sd.query_devices(kind="output")
        return SoundDeviceBackend(input_device, output_device)
    except Exception as exc:  # sounddevice raises PortAudioError / ValueError here
        return NullBackend(notice=f"no audio device ({exc}); using the null device")
