"""An Opus decoder that can conceal: libopus through ctypes.

aiortc decodes through PyAV (FFmpeg's libopus wrapper), which has no way to ask libopus for packet
loss concealment or for the in-band FEC copy of a lost frame: FFmpeg reads an empty packet as
"end of stream". Both are one ``opus_decode_float`` call with libopus's own API, so mctui's
receive path decodes with this instead. libopus comes from the system (Debian's ``libopus0``) or,
failing that, the copy bundled in PyAV's wheel, so a plain ``pip install`` still works.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from mctui.errors import MctuiError

SAMPLE_RATE = 48_000
#: The longest Opus packet is 120 ms.
_MAX_SAMPLES = SAMPLE_RATE * 120 // 1000

_lib: Any = None


class OpusUnavailableError(MctuiError):
    """No libopus could be loaded."""


def _candidates() -> list[str]:
    found = []
    system = ctypes.util.find_library("opus")
    if system:
        found.append(system)
    try:
        import av

        libs = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
        found.extend(sorted(glob.glob(os.path.join(libs, "libopus*.so*"))))
    except ImportError:  # pragma: no cover - av is a dependency
        pass
    return found


def _load() -> Any:
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [
            ctypes.c_int32,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_decode_float.restype = ctypes.c_int
        lib.opus_decode_float.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_float),
            ctypes.c_int,
            ctypes.c_int,
        ]
        _lib = lib
        return lib
    raise OpusUnavailableError(
        "libopus is not installed (apt-get install libopus0)"
        + (f": {'; '.join(errors)}" if errors else "")
    )


class OpusDecoder:
    """One stream's decoder state (libopus's concealment extrapolates from it, so one per
    stream, fed in order)."""

    def __init__(self, channels: int = 2) -> None:
        self._handle: int | None = None
        lib = _load()
        error = ctypes.c_int(0)
        handle = lib.opus_decoder_create(SAMPLE_RATE, channels, ctypes.byref(error))
        if error.value != 0 or not handle:
            raise OpusUnavailableError(f"opus_decoder_create failed ({error.value})")
        self._lib = lib
        self._handle = handle
        self.channels = channels
        self._pcm = (ctypes.c_float * (_MAX_SAMPLES * channels))()

    def _run(self, payload: bytes | None, samples: int, fec: bool) -> npt.NDArray[np.float32]:
        if self._handle is None:
            raise MctuiError("the Opus decoder is closed")
        size = len(payload) if payload else 0
        count = self._lib.opus_decode_float(
            self._handle, payload if size else None, size, self._pcm, samples, int(fec)
        )
        if count < 0:
            raise ValueError(f"opus_decode_float failed ({count})")
        out = np.ctypeslib.as_array(self._pcm)[: count * self.channels]
        if self.channels == 1:
            return out.copy()  # mono: (samples,), as the mono playout mixes it
        return out.reshape(count, self.channels).copy()

    def decode(self, payload: bytes) -> npt.NDArray[np.float32]:
        """Decode one packet: ``(samples, channels)`` float32 in [-1, 1] (``(samples,)`` for a
        mono decoder: libopus downmixes a stereo stream itself)."""
        return self._run(payload, _MAX_SAMPLES, fec=False)

    def recover(self, next_payload: bytes, samples: int) -> npt.NDArray[np.float32]:
        """The lost frame before ``next_payload``, from the FEC copy it carries (or concealed by
        libopus when it carries none)."""
        return self._run(next_payload, samples, fec=True)

    def conceal(self, samples: int) -> npt.NDArray[np.float32]:
        """Packet loss concealment for ``samples`` (a multiple of 2.5 ms)."""
        return self._run(None, samples, fec=False)

    def close(self) -> None:
        if self._handle is not None:
            self._lib.opus_decoder_destroy(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
