"""TUI cost: what the screen costs a user on top of the same join without a screen.

The real app (``MctuiApp`` under Textual's headless driver, the terminal bytes it would write
rendered here so their cost counts) joins 8 rooms of a ``mctui serve`` process; a swarm process
speaks in every room (1 or 4 speakers each, a tone that rises and falls as a voice does). A
second process joins the same rooms with the same engine and no screen (the floor). Over the
same seconds (three windows of 5 s by default; CPU is their median) this reports:

- ``ui_cpu_percent``: this process's CPU minus the floor's (the screen's own cost);
- ``frame_work_p50_ms`` / ``frame_work_p95_ms``: the UI's own work for one painted frame:
  reading the levels for it, composing it and rendering its terminal bytes;
- ``pull_to_bytes_p50_ms`` / ``..._p95_ms``: wall time from the first level read for a frame to
  its bytes (the audio's work on the same loop, and the other processes, come in between);
- ``layouts_per_s``: the rooms screen's layout passes (0 in steady state is the goal);
- ``bytes_per_s``: what the terminal is sent;
- the floor's CPU per room and per received stream.

Then Tab through the real app (2 rooms, a tone bot in each, ``suspend-existing``): from the key
press to the end of the first device frame that carries only the new room (``tab``), and whether
the first frame that starts after the key is already clean.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import SECRET, emit, summary
from probe import ProbeBackend, tone_power_db
from sfu_cpu import start_server_process
from textual._compositor import CompositorUpdate

from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui import MultiCallAudioPolicy as Policy
from mctui.server.tokens import issue_token
from mctui.tui.app import MctuiApp
from mctui.tui.widgets.room_pane import RoomPane

ROOMS = 8
PREFIX = "tui"
SIZES = ((160, 48), (80, 24))
TICK = os.sysconf("SC_CLK_TCK")
TONES = {"a": 440.0, "b": 660.0}
WINDOWS = 3


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def streams_flowing(client: Client) -> dict[str, int]:
    return {
        f"{call.cid}/{pid}": remote.frames_received
        for call in client.state.active_calls
        if call.adm is not None
        for pid, remote in call.adm.remotes.items()
    }


async def floor(url: str) -> None:
    """Helper process: the same join with no screen; prints its PID's readiness, then waits."""
    options = ClientOptions(audio_device="null", multi_call_audio_policy=Policy.DUCK_EXISTING)
    client = Client(url, User("floor"), issue_token(SECRET, "floor"), options)
    await client.connect()
    for r in range(ROOMS):
        await client.make_call(CallType.DEFAULT, f"{PREFIX}{r}").join()
    gc.freeze()  # what headless mode's PauseGuard does once joined
    print("FLOOR READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await client.disconnect()


async def spawn(*args: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=Path(__file__).parent,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 180)
    return proc


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()


class FrameMeter:
    """Hooks on the app: when a frame's first level read happened, when its bytes were ready."""

    def __init__(self, app: MctuiApp) -> None:
        self.app = app
        self.frames_ms: list[float] = []
        #: Per frame, the UI's own work: reading levels for it, composing it, its bytes.
        self.work_ms: list[float] = []
        self._pull_s = 0.0
        self.bytes = 0
        self.layouts = 0
        self._started: float | None = None
        self._display = app._display
        self._read = RoomPane.refresh_levels

    def install(self) -> None:
        meter = self
        read = self._read

        def refresh_levels(pane: RoomPane) -> None:
            start = time.perf_counter()
            if meter._started is None:
                meter._started = start
            read(pane)
            meter._pull_s += time.perf_counter() - start

        RoomPane.refresh_levels = refresh_levels  # type: ignore[method-assign]
        app = self.app
        screen = app.rooms_screen
        assert screen is not None
        layout = screen._refresh_layout

        def counted_layout(*args: Any, **kwargs: Any) -> None:
            meter.layouts += 1
            layout(*args, **kwargs)

        screen._refresh_layout = counted_layout  # type: ignore[method-assign]
        compose = screen._compositor_refresh

        def timed_compose() -> None:
            start = time.perf_counter()
            compose()
            meter.work_ms.append((time.perf_counter() - start + meter._pull_s) * 1000)
            meter._pull_s = 0.0

        screen._compositor_refresh = timed_compose  # type: ignore[method-assign]

        def display(screen: Any, renderable: Any) -> None:
            if isinstance(renderable, CompositorUpdate):
                # the bytes a terminal driver would write (the headless driver skips them)
                meter.bytes += len(renderable.render_segments(app.console).encode())
                if meter._started is not None:
                    meter.frames_ms.append((time.perf_counter() - meter._started) * 1000)
                    meter._started = None
            self._display(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    def reset(self) -> None:
        self.frames_ms.clear()
        self.work_ms.clear()
        self.bytes = self.layouts = 0

    def uninstall(self) -> None:
        RoomPane.refresh_levels = self._read  # type: ignore[method-assign]
        self.app._display = self._display  # type: ignore[method-assign]


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)


async def measure_tui(
    url: str, speakers: int, size: tuple[int, int], seconds: float, floor_pid: int
) -> dict[str, Any]:
    name = f"me{speakers}-{size[0]}x{size[1]}"
    ready = asyncio.Event()

    async def connect() -> Client:
        options = ClientOptions(audio_device="null", multi_call_audio_policy=Policy.DUCK_EXISTING)
        client = Client(url, User(name), issue_token(SECRET, name), options)
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    rooms = [f"{PREFIX}{r}" for r in range(ROOMS)]
    app = MctuiApp(connect, rooms, on_ready=on_ready)
    async with app.run_test(size=size):
        await asyncio.wait_for(ready.wait(), 60)
        client = app.client
        assert client is not None
        meter = FrameMeter(app)
        meter.install()
        await asyncio.sleep(3.0)  # every stream flowing, every pane drawn
        before = streams_flowing(client)
        # the median of WINDOWS windows: four processes share 2 cores, one window can land on
        # a burst of the others' work
        windows: list[tuple[float, float]] = []
        meter.reset()
        wall = 0.0
        for _ in range(WINDOWS):
            cpu0, floor0, wall0 = cpu_seconds(), cpu_seconds(floor_pid), time.monotonic()
            await asyncio.sleep(seconds)
            took = time.monotonic() - wall0
            wall += took
            windows.append(
                (
                    100 * (cpu_seconds() - cpu0) / took,
                    100 * (cpu_seconds(floor_pid) - floor0) / took,
                )
            )
        after = streams_flowing(client)
        frames, work = list(meter.frames_ms), list(meter.work_ms)
        layouts, sent = meter.layouts, meter.bytes
        meter.uninstall()
        await client.disconnect()
    streams = ROOMS * speakers
    ui = [tui - floor for tui, floor in windows]
    cpu = statistics.median(tui for tui, _ in windows)
    floor_cpu = statistics.median(floor for _, floor in windows)
    return {
        "rooms": ROOMS,
        "speakers": speakers,
        "size": f"{size[0]}x{size[1]}",
        "ui_cpu_percent": round(statistics.median(ui), 1),
        "ui_cpu_windows": [round(value, 1) for value in ui],
        "tui_process_cpu_percent": round(cpu, 1),
        "floor_cpu_percent": round(floor_cpu, 1),
        "floor_per_room_percent": round(floor_cpu / ROOMS, 2),
        "floor_per_stream_percent": round(floor_cpu / streams, 2),
        "frames_per_s": round(len(frames) / wall, 1),
        "frame_work_p50_ms": percentile(work, 0.5),
        "frame_work_p95_ms": percentile(work, 0.95),
        "pull_to_bytes_p50_ms": percentile(frames, 0.5),
        "pull_to_bytes_p95_ms": percentile(frames, 0.95),
        "layouts_per_s": round(layouts / wall, 2),
        "bytes_per_s": round(sent / wall),
        # the streams of the swarm, plus the floor's microphone in the room it focuses
        "streams_flowing": sum(1 for k, n in after.items() if n > before.get(k, 0)),
        "streams_expected": streams + 1,
    }


async def tab_to_speaker(switches: int) -> dict[str, Any]:
    """Tab through the app, timed to the first device frame that carries only the new room.

    The server and the two tone bots run in processes of their own: this one holds what a user
    runs (the app and its engine), as in the rows above."""
    server, url = await start_server_process()
    bots = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mctui",
            "bot",
            room,
            "--server",
            url,
            "--secret",
            SECRET,
            "--tone",
            str(hz),
            "--user",
            f"bot-{room}",
            "--log-file",
            "/dev/null",
            stdout=asyncio.subprocess.DEVNULL,
        )
        for room, hz in TONES.items()
    ]
    backend = ProbeBackend()
    ready = asyncio.Event()

    async def connect() -> Client:
        options = ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi()
        )
        client = Client(url, User("user"), issue_token(SECRET, "user"), options)
        await client.connect()
        return client

    async def on_ready(app: MctuiApp) -> None:
        ready.set()

    loop = asyncio.get_running_loop()
    results: list[float] = []
    first_clean = 0
    app = MctuiApp(connect, list(TONES), on_ready=on_ready)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await asyncio.wait_for(ready.wait(), 30)
            client = app.client
            assert client is not None
            await asyncio.sleep(2.0)
            for _ in range(switches):
                focused = client.state.focused_call
                target = "a" if focused is not None and focused.id == "b" else "b"
                other = "a" if target == "b" else "b"
                done: asyncio.Future[tuple[float, bool]] = loop.create_future()
                frames = 0

                def check(now: float, frame: Any, target: str = target, other: str = other,
                          done: asyncio.Future[tuple[float, bool]] = done) -> None:  # fmt: skip
                    nonlocal frames
                    frames += 1
                    on = tone_power_db(frame, TONES[target])
                    off = tone_power_db(frame, TONES[other])
                    if not done.done() and on > -30 and off < on - 30:
                        done.set_result((now + 0.020, frames == 1))

                key = loop.time()
                backend.on_output = check
                await pilot.press("tab")
                end, first = await asyncio.wait_for(done, 5)
                backend.on_output = None
                results.append((end - key) * 1000)
                first_clean += first
                await asyncio.sleep(0.05 + random.uniform(0.0, 0.02))  # a random clock phase
            await client.disconnect()
    finally:
        for proc in [*bots, server]:
            proc.terminate()
            await proc.wait()
    return {**summary(results), "first_frame_clean": f"{first_clean} of {len(results)}"}


async def main(seconds: float, switches: int) -> None:
    rows = []
    for speakers in (1, 4):
        for size in SIZES:
            # a fresh server, swarm and floor for each row: the swarm's light participants do
            # not reconnect, and after a minute at full load some of their streams had stopped
            server, url = await start_server_process()
            swarm = await spawn("bot_swarm.py", url, str(ROOMS), str(speakers), PREFIX, "speech")
            floor_proc = await spawn(__file__, "--floor", url)
            try:
                rows.append(await measure_tui(url, speakers, size, seconds, floor_proc.pid))
                print(rows[-1], file=sys.stderr, flush=True)
            finally:
                for proc in (floor_proc, swarm):
                    await stop(proc)
                server.terminate()
                await server.wait()
    tab = await tab_to_speaker(switches)
    emit("tui", {"tui": {"rows": rows, "tab": tab}})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--floor":
        asyncio.run(floor(sys.argv[2]))
    else:
        seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
        switches = int(sys.argv[2]) if len(sys.argv) > 2 else 50
        asyncio.run(main(seconds, switches))
