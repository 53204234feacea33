"""Capacity: one client joined to N rooms x 3 speaking bots, meters on.

The server (``mctui serve``) and the bots (``bot_swarm.py``) run in their own processes; this
process holds only the user's client. A device frame is "late" when the device clock ticks more
than 60 ms after its due time (the loop could not keep up). Reports the largest N with no late
frame and this process's CPU at that N.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
import sys
import time
from pathlib import Path

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


async def main(sizes: list[int], seconds: float) -> None:
    server, url = await start_server_process()
    rows = []
    try:
        for rooms in sizes:
            rows.append(await measure(url, rooms, seconds))
    finally:
        server.terminate()
        await server.wait()
    ok = [r for r in rows if r["late_frames"] == 0]
    best = max(ok, key=lambda r: r["rooms"]) if ok else {"rooms": 0, "cpu_percent": 0.0}
    base_rows = [await baseline(pairs, seconds) for pairs in (16, 32, 48)]
    base_ok = [r["pairs"] for r in base_rows if r["late_frames"] == 0]
    emit(
        "capacity",
        {
            "capacity": {
                "rows": rows,
                "max_rooms": best["rooms"],
                "cpu_percent": best["cpu_percent"],
                "baseline_rows": base_rows,
                "baseline_max_pairs": max(base_ok, default=0),
                "cores": os.cpu_count(),
            }
        },
    )


if __name__ == "__main__":
    sizes = [int(x) for x in sys.argv[1].split(",")] if len(sys.argv) > 1 else [4, 8, 16]
    asyncio.run(main(sizes, float(sys.argv[2]) if len(sys.argv) > 2 else 6.0))
