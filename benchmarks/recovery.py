"""Recovery after an outage: how long after the path returns a listener hears the talker again.

Two outages, each repeated N times (median and max reported):

- **restart**: ``mctui serve`` (a real process on 127.0.0.1) is killed with SIGKILL and started
  again on the same port 0.5 s later; the path returns when the new server prints that it
  listens. Every call is gone with the old process: both clients reconnect and recreate it.
- **blackhole**: the tests' ``netlab`` link drops everything for ``BLACKHOLE_S`` seconds (the
  server in one namespace, both clients in the other); the path returns when the forwarder
  forwards again. Signalling notices within the keepalive's 5 s and resumes within the
  server's 15 s grace; the media connections survive a 10 s gap (ICE consent allows 30 s).

Talker (a 1 kHz tone) and listener are ``Client`` objects in one process; "heard again" is the
end of the first playout frame after that moment in which the tone is back (above -30 dB in
its DFT bin). Both go through the real reconnect: signalling, rejoin or resume, media.

Usage: ``python recovery.py [runs] [blackhole_s]`` (defaults 10 and 10).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import SECRET, emit, summary, tone
from probe import FRAME_S, ProbeBackend, tone_power_db

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

HZ = 1000.0
HEARD_DB = -30.0


class Ear:
    """Watches the listener's playout for the tone coming back after ``mark``."""

    def __init__(self, backend: ProbeBackend) -> None:
        self.mark: float | None = None
        self.heard: asyncio.Future[float] | None = None
        backend.on_output = self._on_output

    def _on_output(self, now: float, frame: Any) -> None:
        if self.mark is None or self.heard is None or self.heard.done() or now < self.mark:
            return
        if tone_power_db(frame, HZ) > HEARD_DB:
            self.heard.set_result(now + FRAME_S)

    async def back_after(self, mark: float) -> float:
        """Milliseconds from ``mark`` (loop time) to the end of the first frame with the tone
        (at most 30 s: the benchmark fails rather than wait for ever)."""
        self.heard = asyncio.get_running_loop().create_future()
        self.mark = mark
        try:
            return (await asyncio.wait_for(self.heard, 30.0) - mark) * 1000
        finally:
            self.mark = None


async def pair(url: str) -> tuple[Any, Any, Ear]:
    """A talker and a listener in one room, the listener's playout watched."""
    from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
    from mctui.audio.backends import MemoryBackend
    from mctui.server.tokens import issue_token

    clients = []
    ear_backend = ProbeBackend()
    for user, backend in (("talker", MemoryBackend(tone(HZ))), ("listener", ear_backend)):
        options = ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi()
        )
        client = Client(url, User(user), issue_token(SECRET, user), options)
        await client.connect()
        await client.make_call(CallType.DEFAULT, "outage").join()
        clients.append(client)
    ear = Ear(ear_backend)
    await ear.back_after(asyncio.get_running_loop().time())
    return clients[0], clients[1], ear


async def settled(*clients: Any) -> None:
    """Every call of ``clients`` joined again (the next outage starts from a healthy call)."""
    while not all(  # noqa: ASYNC110 - polling two clients' states is simplest here
        c.state.connection.value == "connected"
        and all(call.state.connection.value == "joined" for call in c.state.active_calls)
        for c in clients
    ):
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


async def start_server(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", "serve", "--port", str(port), "--secret", SECRET,
        "--log-file", "/dev/null", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if b"listening" not in line:
        raise SystemExit(f"the server did not start: {line!r}")
    return process


async def restarts(runs: int) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = await start_server(port)
    talker, listener, ear = await pair(f"http://127.0.0.1:{port}")
    times = []
    try:
        for _ in range(runs):
            server.send_signal(signal.SIGKILL)
            await server.wait()
            await asyncio.sleep(0.5)
            server = await start_server(port)
            times.append(await ear.back_after(asyncio.get_running_loop().time()))
            await settled(talker, listener)
    finally:
        await talker.disconnect()
        await listener.disconnect()
        server.send_signal(signal.SIGTERM)
        await server.wait()
    return summary(times)


async def inner(url: str) -> None:
    """In the clients' namespace: report each recovery after the outer process says "healed T"
    (T: ``time.monotonic()``, the clock the event loop uses, the same in every namespace)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=pump, daemon=True).start()
    talker, listener, ear = await pair(url)
    print("ready", flush=True)
    try:
        while (line := await lines.get()).startswith("healed"):
            took = await ear.back_after(float(line.split()[1]))
            await settled(talker, listener)
            print(json.dumps({"ms": took}), flush=True)
    finally:
        await talker.disconnect()
        await listener.disconnect()


def blackholes(runs: int, seconds: float) -> dict[str, Any]:
    import subprocess

    import netlab

    why = netlab.available()
    if why is not None:
        raise SystemExit(f"recovery benchmark: {why}")
    lab = netlab.NetLab().start()
    times = []
    try:
        server = lab.server_popen(
            [sys.executable, "-m", "mctui", "serve", "--host", netlab.SERVER_IP, "--port",
             "8470", "--secret", SECRET, "--log-file", "/dev/null"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        netlab.wait_for_line(server, "listening")
        clients = lab.client_popen(
            [sys.executable, __file__, "--inner", f"http://{netlab.SERVER_IP}:8470"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        netlab.wait_for_line(clients, "ready", timeout=60)
        assert clients.stdin is not None and clients.stdout is not None
        for _ in range(runs):
            lab.impair(blackhole=True)
            time.sleep(seconds)
            lab.impair(blackhole=False)
            clients.stdin.write(f"healed {time.monotonic()}\n")
            clients.stdin.flush()
            record = json.loads(netlab.wait_for_line(clients, "{", timeout=60))
            times.append(record["ms"])
        clients.stdin.write("done\n")
        clients.stdin.flush()
        clients.wait(timeout=30)
    finally:
        lab.stop()
    return {**summary(times), "blackhole_s": seconds}


def main() -> None:
    if "--inner" in sys.argv:
        asyncio.run(inner(sys.argv[sys.argv.index("--inner") + 1]))
        return
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    result = {
        "runs": runs,
        "restart": asyncio.run(restarts(runs)),
        "blackhole": blackholes(runs, seconds),
    }
    emit("recovery", {"recovery": result})


if __name__ == "__main__":
    main()
