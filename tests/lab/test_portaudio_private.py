"""The effect of each touch of sounddevice's private parts (``audio/portaudio_private.py``),
each in a fresh process so PortAudio starts from nothing: if sounddevice renames what they use,
these fail rather than the hooks silently doing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jack import JackServer

#: What this module needs of the lab (conftest.py: the tiers).
pytestmark = pytest.mark.jack

RESCAN = textwrap.dedent(
    """
    import sys
    import sounddevice as sd
    from mctui.audio.portaudio_private import rescan_devices

    def jack_devices():
        apis = [a["name"] for a in sd.query_hostapis()]
        return [d["name"] for d in sd.query_devices() if "JACK" in apis[d["hostapi"]]]

    print(len(jack_devices()), flush=True)
    sys.stdin.readline()  # the test starts the JACK server now
    rescan_devices(sd)
    print(len(jack_devices()), flush=True)
    """
)


def test_a_rescan_finds_a_jack_server_started_after_portaudio(tmp_path: Path) -> None:
    server = JackServer()
    env = {**os.environ, "JACK_DEFAULT_SERVER": server.name, "JACK_NO_START_SERVER": "1"}
    probe = subprocess.Popen(
        [sys.executable, "-c", RESCAN], env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert probe.stdin is not None and probe.stdout is not None
    try:
        assert probe.stdout.readline().strip() == "0"  # no JACK server yet
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(f"the virtual audio device (jackd) did not start: {exc}")
        probe.stdin.write("go\n")
        probe.stdin.flush()
        assert int(probe.stdout.readline()) > 0  # the rescan found it
        probe.wait(timeout=20)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        server.stop()


EXIT = textwrap.dedent(
    """
    import sys
    import sounddevice as sd
    from mctui.audio.portaudio_private import skip_terminate_at_exit

    def marked_terminate():
        open(sys.argv[1], "a").write("terminated\\n")
        sd._initialized = 0

    sd._terminate = marked_terminate  # what sounddevice's exit handler calls
    if sys.argv[2] == "skip":
        skip_terminate_at_exit(sd)
    """
)


@pytest.mark.parametrize("skip", [False, True])
def test_skipping_portaudios_terminate_at_exit(tmp_path: Path, skip: bool) -> None:
    marker = tmp_path / "marker"
    subprocess.run(
        [sys.executable, "-c", EXIT, str(marker), "skip" if skip else "keep"],
        check=True, timeout=30,
    )  # fmt: skip
    assert marker.exists() is not skip
