"""TUI: 8 panes x 4 meters at 20 Hz, every meter moving, timed to the painted frame.

The real engine is connected to a real coordinator (no media; levels move synthetically as
speech would) under ``DUCK_EXISTING``, so no room is suspended and all 32 meters animate. Each
20 Hz round posts a level change to every room; the clock stops when Textual's compositor hands
the app the screen update that follows and that update is rendered to the terminal bytes a
driver would write (Textual's headless driver skips that last step: the benchmark does it, so
its cost counts). Reports the latency from a level change to its painted frame (p50/p95), the
frames painted per round, and the process CPU over the run.
"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import time

from common import SECRET, emit, summary
from textual._compositor import CompositorUpdate

from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.engine.bridge import LevelsChanged
from mctui.server.app import start_server
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.messages import EngineEvent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


ROOMS = [f"room{i}" for i in range(8)]


async def run_peers(url: str) -> None:
    """Helper process: the 32 other participants (their clocks must not count as TUI CPU)."""
    peers = []
    for i, room in enumerate(ROOMS):
        for j in range(4):
            peer = Client(url, User(f"p{i}{j}"), issue_token(SECRET, f"p{i}{j}"),
                          ClientOptions(audio_device="null"))  # fmt: skip
            await peer.connect()
            await peer.make_call(CallType.DEFAULT, room).join()
            peers.append(peer)
    print("PEERS READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for peer in peers:
        await peer.disconnect()


async def main(seconds: float = 10.0) -> None:
    server = await start_server(SECRET, "127.0.0.1", 0)
    rooms = ROOMS
    helper = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--peers", server.url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert helper.stdout is not None and helper.stdin is not None
    await asyncio.wait_for(helper.stdout.readline(), 60)

    def levels(call, participant):  # type: ignore[no-untyped-def]
        level = -35 + 25 * math.sin(time.monotonic() * 7 + (hash(participant.user.id) % 50))
        return level, level + 3

    ready = asyncio.Event()

    async def connect() -> Client:
        duck = MultiCallAudioPolicy.DUCK_EXISTING
        options = ClientOptions(audio_device="null", multi_call_audio_policy=duck)
        client = Client(server.url, User("me"), issue_token(SECRET, "me"), options)
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    app = MctuiApp(connect, rooms, levels=levels, on_ready=on_ready)
    latencies_ms: list[float] = []
    pending: list[float] = []  # when each level change not yet on screen was made
    painted = 0

    def display(screen: object, renderable: object) -> None:
        nonlocal painted
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # the bytes a terminal driver would write
            now = time.perf_counter()
            painted += 1
            latencies_ms.extend((now - made) * 1000 for made in pending)
            pending.clear()
        original_display(screen, renderable)  # type: ignore[arg-type]

    async with app.run_test(size=(160, 48)):
        await asyncio.wait_for(ready.wait(), 20)
        client = app.client
        assert client is not None and app.rooms_screen is not None
        suspended = [c.id for c in client.state.active_calls if c.state.is_audio_suspended]
        assert not suspended, f"rooms suspended, their meters would not move: {suspended}"
        original_display = app._display
        app._display = display  # type: ignore[method-assign]
        await asyncio.sleep(0.5)
        pending.clear()
        latencies_ms.clear()
        painted = 0
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        end = wall0 + seconds
        rounds = 0
        while time.monotonic() < end:
            rounds += 1
            for call in client.state.active_calls:
                pending.append(time.perf_counter())
                app.rooms_screen.post_message(EngineEvent(LevelsChanged(call)))
            await asyncio.sleep(0.05)
        cpu = 100 * (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        app._display = original_display  # type: ignore[method-assign]
        await client.disconnect()
    helper.stdin.close()
    await helper.wait()
    await server.stop()
    ordered = sorted(latencies_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    emit(
        "tui",
        {
            "tui": {
                **summary(latencies_ms),
                "refresh_p95_ms": round(p95, 2),
                "frames_per_round": round(painted / max(1, rounds), 2),
                "meters": 4 * len(rooms),
                "cpu_percent": round(cpu, 1),
            }
        },
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--peers":
        asyncio.run(run_peers(sys.argv[2]))
    else:
        asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
