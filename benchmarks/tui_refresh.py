"""TUI: 8 panes x 4 meters at 20 Hz under Textual's headless driver.

Reports the time to handle one room's meter update (p50/p95, the handler plus Textual's repaint
bookkeeping it triggers) and the process CPU over the run, with the real engine connected to a
real coordinator (no media; levels move synthetically as speech would).
"""

from __future__ import annotations

import asyncio
import math
import resource
import sys
import time

from common import SECRET, emit, summary

from mctui import CallType, Client, ClientOptions, User
from mctui.engine.bridge import LevelsChanged
from mctui.server.app import start_server
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.messages import EngineEvent
from mctui.tui.screens.rooms import RoomsScreen


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
        client = Client(server.url, User("me"), issue_token(SECRET, "me"),
                        ClientOptions(audio_device="null"))  # fmt: skip
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    app = MctuiApp(connect, rooms, levels=levels, on_ready=on_ready)
    handle_ms: list[float] = []
    original = RoomsScreen.on_engine_event

    def timed(self: RoomsScreen, message: EngineEvent) -> None:
        start = time.perf_counter()
        original(self, message)
        if isinstance(message.event, LevelsChanged):
            handle_ms.append((time.perf_counter() - start) * 1000)

    RoomsScreen.on_engine_event = timed  # type: ignore[method-assign]
    async with app.run_test(size=(160, 48)):
        await asyncio.wait_for(ready.wait(), 20)
        client = app.client
        assert client is not None
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        end = wall0 + seconds
        while time.monotonic() < end:
            for call in client.state.active_calls:
                assert app.rooms_screen is not None
                app.rooms_screen.post_message(EngineEvent(LevelsChanged(call)))
            await asyncio.sleep(0.05)
        cpu = 100 * (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        await client.disconnect()
    RoomsScreen.on_engine_event = original  # type: ignore[method-assign]
    helper.stdin.close()
    await helper.wait()
    await server.stop()
    stats = summary(handle_ms)
    ordered = sorted(handle_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    emit(
        "tui",
        {"tui": {**stats, "refresh_p95_ms": round(p95, 2), "cpu_percent": round(cpu, 1)}},
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--peers":
        asyncio.run(run_peers(sys.argv[2]))
    else:
        asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
