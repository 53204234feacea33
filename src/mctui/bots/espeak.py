"""Real speech for the echo test bed and its benchmark: Debian's espeak-ng, two voices,
resampled to 48 kHz.

espeak-ng is a formant synthesiser: its speech has voicing, pauses and syllables, which is what
a noise suppressor and an echo canceller are built for (synthetic tones and noise are not).
``make test`` installs it (scripts/system-deps.sh); nothing else in mctui needs it.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave

import numpy as np

ESPEAK = "espeak-ng"
FAR_TEXT = (
    "Dispatch to unit four, we have a report of smoke near the north bridge. Confirm when you "
    "are on scene and hold your position until the crew arrives. Traffic is heavy on the east "
    "road, take the river crossing instead and report back in ten minutes."
)
NEAR_TEXT = (
    "Unit four copies. We are two minutes out, approaching from the river side. "
    "Please send a second engine to the north gate."
)


def available() -> str | None:
    if shutil.which(ESPEAK) is None:
        return f"{ESPEAK} is missing (make test installs Debian's espeak-ng)"
    return None


@functools.cache
def speak(text: str, voice: str, level_dbfs: float = -20.0) -> np.ndarray:
    """``text`` said by ``voice`` (an espeak-ng voice: ``en-us``, ``en-gb+f3``), float32 mono at
    48 kHz, scaled so its voiced parts are at ``level_dbfs`` RMS."""
    done = subprocess.run(
        [ESPEAK, "-v", voice, "-s", "150", "--stdout", text], capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"espeak-ng failed: {done.stderr.decode()[-500:]}")
    with wave.open(io.BytesIO(done.stdout)) as wav:
        rate = wav.getframerate()
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32768.0
    times = np.arange(int(raw.size * 48_000 / rate)) / 48_000
    speech = np.interp(times, np.arange(raw.size) / rate, raw)
    voiced = speech[np.abs(speech) > 0.01]
    speech *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(voiced**2))
    return speech.astype(np.float32)
