"""Recording one room to an Ogg/Opus file (``Call.start_recording``): what you hear from the room
on the left channel, your own microphone into it on the right.

The device tick hands each frame pair to ``RoomRecorder.add`` (a queue put, nothing more); a
thread of the recorder's own encodes and writes them with PyAV, so a slow disk never delays the
audio. A write that fails (a full disk, a vanished directory) stops the recording and is told to
``on_error`` on the event loop; the call goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import av
import numpy as np

from mctui.audio.channels import to_mono
from mctui.audio.config import FRAME_SAMPLES, Frame

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
#: Frames waiting for the writer at most (10 s): past that the disk is too slow, and the
#: recording stops rather than the memory growing.
MAX_BACKLOG = 500
_SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.float32)
#: What PyAV buffers before it writes to the file.
WRITE_BYTES = 4096


def recording_path(directory: Path, room: str, started: datetime | None = None) -> Path:
    """``DIR/ROOM-YYYYmmdd-HHMMSS.ogg`` (the room's id with ``:`` made a ``-``)."""
    stamp = (started or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return directory / f"{room.replace(':', '-')}-{stamp}.ogg"


class RoomRecorder:
    """One room's recording: a writer thread fed one frame pair per device tick."""

    def __init__(self, path: Path, on_error: Callable[[str], None]) -> None:
        self.path = path
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._frames: queue.Queue[tuple[Frame, Frame] | None] = queue.Queue()
        self.frames_written = 0
        self.failed: str | None = None
        self._stopped = False
        path.parent.mkdir(parents=True, exist_ok=True)
        # Small writes: a full disk is known within a second or so, not after 32 kB.
        self._file = path.open("wb", buffering=0)  # raises OSError at once
        self._container = av.open(self._file, "w", format="ogg", buffer_size=WRITE_BYTES)
        stream = self._container.add_stream("libopus", rate=SAMPLE_RATE, layout="stereo")
        self._stream = stream
        self._thread = threading.Thread(target=self._write, name=f"record-{path.name}", daemon=True)
        self._thread.start()

    def add(self, heard: Frame, mic: Frame | None) -> None:
        """One device frame: the room as heard (mono or stereo) and the mic sent into it (None:
        nothing was sent)."""
        if self._stopped:
            return
        if self._frames.qsize() > MAX_BACKLOG:
            self._fail(f"the disk does not keep up with the recording {self.path}")
            return
        self._frames.put((to_mono(heard), _SILENCE if mic is None else to_mono(mic)))

    def finish(self) -> None:
        """Take no more frames; the writer finishes the file by itself (no waiting)."""
        if not self._stopped:
            self._stopped = True
            self._frames.put(None)

    async def stop(self) -> None:
        """Finish the file (the encoder's last packets, the Ogg trailer); waits for the writer."""
        self.finish()
        await asyncio.to_thread(self._thread.join)

    def _write(self) -> None:
        pts = 0
        try:
            while (pair := self._frames.get()) is not None:
                interleaved = np.stack(pair, axis=1).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(interleaved, format="flt", layout="stereo")
                frame.sample_rate = SAMPLE_RATE
                frame.pts = pts
                pts += FRAME_SAMPLES
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
                self.frames_written += 1
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            self._fail(f"recording to {self.path} failed: {exc}")
        finally:
            try:
                self._container.close()
            except (OSError, av.FFmpegError) as exc:
                self._fail(f"recording to {self.path} failed: {exc}")
            finally:
                self._file.close()

    def _fail(self, message: str) -> None:
        """Stop taking frames and say why, once, on the loop."""
        self._stopped = True
        self._frames.put(None)  # the writer finishes what it has and closes the file
        if self.failed is None:
            self.failed = message
            log.error("%s", message)
            with contextlib.suppress(RuntimeError):  # the loop closed first: nobody to tell
                self._loop.call_soon_threadsafe(self._on_error, message)
