"""The WAV backend: the microphone reads a WAV file (looped), the speaker mix is written to one.

For scripts, demos and tests without sound hardware. Input must be 16-bit PCM at 48 kHz (mono or
stereo); output is 16-bit stereo at 48 kHz, written frame by frame so the file is usable even if
the program is killed (the header is fixed up on close).
"""

from __future__ import annotations

import contextlib
import wave
from pathlib import Path

import numpy as np

from mctui.audio.backends import ClockedBackend
from mctui.audio.channels import to_stereo
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE, Frame
from mctui.errors import NoAudioDeviceError


def read_wav(path: Path, *, keep_stereo: bool = False) -> Frame:
    """A 16-bit 48 kHz WAV file as float32: mono ``(n,)``, or ``(n, 2)`` for a stereo file when
    ``keep_stereo`` (raises ``NoAudioDeviceError`` saying why it cannot)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getframerate() != SAMPLE_RATE:
                raise NoAudioDeviceError(
                    f"{path}: need 16-bit PCM at {SAMPLE_RATE} Hz, got"
                    f" {8 * wav.getsampwidth()}-bit at {wav.getframerate()} Hz"
                )
            channels = wav.getnchannels()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    except (OSError, wave.Error, EOFError) as exc:
        raise NoAudioDeviceError(f"cannot read {path}: {exc}") from exc
    if channels > 1:
        frames = pcm.reshape(-1, channels).astype(np.float32)
        data = frames[:, :2] if keep_stereo and channels >= 2 else frames.mean(axis=1)
    else:
        data = pcm.astype(np.float32)
    return (data / 32768.0).astype(np.float32)


def write_wav(path: Path, samples: Frame) -> None:
    """Write float32 samples, mono ``(n,)`` or stereo ``(n, 2)``, as a 16-bit 48 kHz WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


class WavBackend(ClockedBackend):
    name = "wav"

    def __init__(self, input_path: Path | None = None, output_path: Path | None = None) -> None:
        super().__init__()
        self._input = read_wav(input_path, keep_stereo=True) if input_path is not None else None
        self._pos = 0
        self._out: wave.Wave_write | None = None
        if output_path is not None:
            try:
                self._out = wave.open(str(output_path), "wb")  # noqa: SIM115 - open for the run
            except OSError as exc:
                raise NoAudioDeviceError(f"cannot write {output_path}: {exc}") from exc
            self._out.setnchannels(2)
            self._out.setsampwidth(2)
            self._out.setframerate(SAMPLE_RATE)

    def read_input(self) -> Frame:
        if self._input is None or self._input.shape[0] == 0:
            return np.zeros(FRAME_SAMPLES, dtype=np.float32)
        length = self._input.shape[0]
        idx = (np.arange(FRAME_SAMPLES) + self._pos) % length
        self._pos = (self._pos + FRAME_SAMPLES) % length
        frame: Frame = self._input[idx]
        return frame

    def write_output(self, frame: Frame) -> None:
        if self._out is None:
            return
        stereo = to_stereo(frame)  # rows of L, R: interleaved as WAV wants
        try:
            self._out.writeframes((np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes())
        except (OSError, wave.Error) as exc:
            # A full disk or a vanished folder: stop recording, never stop the audio clock.
            out, self._out = self._out, None
            with contextlib.suppress(OSError, wave.Error):
                out.close()
            if self.on_error is not None:
                self.on_error(f"recording stopped: cannot write the speaker mix ({exc})")

    async def close(self) -> None:
        await super().close()
        if self._out is not None:
            out, self._out = self._out, None
            try:
                out.close()
            except (OSError, wave.Error) as exc:
                if self.on_error is not None:
                    self.on_error(f"the recording could not be finished ({exc})")
