"""Capacity: one client joined to N rooms x 3 speaking bots, meters on.

The server (``mctui serve``) and the bots (``bot_swarm.py``) run in their own processes; this
process holds only the user's client. A device frame is "late" when the device clock ticks more
than 60 ms after its due time (the loop could not keep up). N passes when no frame is late and
every stream flows (``streams_flowing == streams_expected``). The sweep doubles N until one fails,
then bisects between the last pass and the first failure: the knee is the largest N that passed,
reported with this process's CPU there. The bare-aiortc baseline is swept the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import SECRET, emit
from probe import ProbeBackend
from sfu_cpu import start_server_process

from mctui import CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.server.tokens import issue_token

LATE_MS = 60.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(url: str, rooms: int, seconds: float) -> dict[str, float]:
    swarm = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("bot_swarm.py")), url, str(rooms),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        return await _measure(url, rooms, seconds, swarm)
    finally:
        if swarm.returncode is None:  # stopped by PID whatever happened
            swarm.kill()
            await swarm.wait()


async def _measure(
    url: str, rooms: int, seconds: float, swarm: asyncio.subprocess.Process
) -> dict[str, float]:
    assert swarm.stdout is not None and swarm.stdin is not None
    await asyncio.wait_for(swarm.stdout.readline(), 120)
    backend = ProbeBackend()
    ticks: list[float] = []
    backend.on_output = lambda now, frame: ticks.append(now)
    user = Client(
        url, User(f"user{rooms}"), issue_token(SECRET, f"user{rooms}"),
        ClientOptions(audio_device=backend,
                      multi_call_audio_policy=MultiCallAudioPolicy.DUCK_EXISTING),
    )  # fmt: skip
    await user.connect()
    for r in range(rooms):
        await user.make_call(CallType.DEFAULT, f"cap{r}").join()
    await asyncio.sleep(2.0)
    ticks.clear()

    def received() -> dict[str, int]:
        return {
            f"{c.cid}/{pid}": remote.frames_received
            for c in user.state.active_calls
            if c.adm is not None
            for pid, remote in c.adm.remotes.items()
        }

    before = received()
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = 100 * (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]
    after = received()
    flowing = sum(1 for k, n in after.items() if n > before.get(k, 0))
    await user.disconnect()
    swarm.stdin.close()
    await swarm.wait()
    late = sum(1 for g in gaps if g > 20 + LATE_MS)
    return {
        "rooms": rooms,
        "late_frames": late,
        "max_gap_ms": round(max(gaps, default=0.0), 1),
        "cpu_percent": round(cpu, 1),
        "streams_flowing": flowing,
        "streams_expected": rooms * 3,
    }


async def baseline(pairs: int, seconds: float) -> dict[str, float]:
    """Bare aiortc, same criterion: ``pairs`` sender/receiver pairs in this process, each
    sender fed one 20 ms frame per tick of a clock task whose lateness is measured."""
    import numpy as np
    from aiortc.mediastreams import MediaStreamError

    from mctui.rtc.peer import new_peer_connection
    from mctui.rtc.tracks import CaptureTrack

    loop = asyncio.get_running_loop()
    senders, pcs, readers = [], [], []
    for _ in range(pairs):
        a, b = new_peer_connection(), new_peer_connection()
        track = CaptureTrack()
        a.addTransceiver(track, direction="sendonly")

        @b.on("track")  # type: ignore[untyped-decorator]
        def on_track(remote) -> None:  # type: ignore[no-untyped-def]
            async def drain() -> None:
                try:
                    while True:
                        await remote.recv()
                except MediaStreamError:
                    return

            readers.append(loop.create_task(drain()))

        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        senders.append(track)
        pcs += [a, b]
    frame = (0.3 * np.sin(2 * np.pi * 440 * np.arange(960) / 48_000)).astype(np.float32)
    ticks: list[float] = []

    async def clock() -> None:
        deadline = loop.time()
        while True:
            ticks.append(loop.time())
            for track in senders:
                track.push(frame)
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    ticker = loop.create_task(clock())
    await asyncio.sleep(2.0)
    ticks.clear()
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = 100 * (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    ticker.cancel()
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]
    for task in readers:
        task.cancel()
    for pc in pcs:
        await pc.close()
    return {
        "pairs": pairs,
        "late_frames": sum(1 for g in gaps if g > 20 + LATE_MS),
        "max_gap_ms": round(max(gaps, default=0.0), 1),
        "cpu_percent": round(cpu, 1),
    }


def _passes(row: dict[str, Any]) -> bool:
    if row.get("error"):
        return False
    flowing = row.get("streams_flowing", row.get("streams_expected", 0))
    return row["late_frames"] == 0 and flowing == row.get("streams_expected", flowing)


async def knee(
    run: Callable[[int], Awaitable[dict[str, Any]]], start: int, cap: int
) -> tuple[int, list[dict[str, Any]]]:
    """Double from ``start`` until a size fails (or ``cap``), then bisect: the largest size that
    passed, and every row measured."""
    rows: list[dict[str, Any]] = []
    good, bad, size = 0, None, start
    while size <= cap:
        row = await run(size)
        rows.append(row)
        if not _passes(row):
            bad = size
            break
        good, size = size, size * 2
    if bad is None:
        return good, rows  # never failed up to the cap: the knee is beyond it
    while bad - good > max(1, good // 8):
        middle = (good + bad) // 2
        row = await run(middle)
        rows.append(row)
        if _passes(row):
            good = middle
        else:
            bad = middle
    return good, rows


async def measure_fresh(rooms: int, seconds: float) -> dict[str, float]:
    """One size against a server process of its own; a size that breaks something fails."""
    server, url = await start_server_process()
    try:
        return await asyncio.wait_for(measure(url, rooms, seconds), 180)
    except Exception as exc:  # the size failed (a crash, a timeout): that is a result too
        return {"rooms": rooms, "late_frames": -1, "error": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        server.terminate()
        await server.wait()


async def main(start: int, seconds: float, cap: int = 64) -> None:
    best_rooms, rows = await knee(lambda n: measure_fresh(n, seconds), start, cap)
    best = next((r for r in rows if r["rooms"] == best_rooms), {"cpu_percent": 0.0})
    base_pairs, base_rows = await knee(lambda n: baseline(n, seconds), 16, 256)
    emit(
        "capacity",
        {
            "capacity": {
                "rows": rows,
                "max_rooms": best_rooms,
                "knee_beyond_cap": all(_passes(r) for r in rows),
                "cpu_percent": best["cpu_percent"],
                "baseline_rows": base_rows,
                "baseline_max_pairs": base_pairs,
                "cores": os.cpu_count(),
            }
        },
    )


if __name__ == "__main__":
    first = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    asyncio.run(main(first, float(sys.argv[2]) if len(sys.argv) > 2 else 6.0))
