"""Every touch of sounddevice's private parts, in one place, each with a test of its effect
(``tests/lab/test_portaudio_private.py``); aiortc's and aioice's are in ``rtc/peer.py``.

sounddevice has no public way to do either of these:

- **Re-scan devices.** PortAudio lists devices (and finds JACK servers) only when it is
  initialised, so a device plugged in, or a JACK server started, after the first use of
  sounddevice stays invisible until PortAudio is terminated and initialised again.
- **Skip PortAudio's terminate at exit.** After a device vanished under an open stream, PortAudio's
  calls on that stream can block forever (seen with JACK), and sounddevice's exit handler would
  hang the process on its way out.

A sounddevice that renamed these raises ``AttributeError`` here rather than silently doing
nothing: the tests then fail.
"""

from __future__ import annotations

import atexit
import contextlib
from typing import Any


def rescan_devices(sd: Any) -> None:
    """Terminate and re-initialise PortAudio, so it sees the devices present now."""
    terminate, initialize = sd._terminate, sd._initialize
    with contextlib.suppress(sd.PortAudioError):  # it was not initialised
        terminate()
    initialize()


def skip_terminate_at_exit(sd: Any) -> None:
    """Do not call PortAudio's terminate when the process exits (it may block forever)."""
    atexit.unregister(sd._exit_handler)
