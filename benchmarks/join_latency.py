"""join() -> first remote audio frame, through the embedded SFU on 127.0.0.1.

Baseline, measured in the same run: a bare aiortc offer/answer between two peer connections in one
process, from createOffer to the first received audio frame.
"""

from __future__ import annotations

import asyncio
import time

from common import SECRET, emit, summary, tone_client

from mctui import CallType
from mctui.rtc.peer import new_peer_connection
from mctui.rtc.tracks import CaptureTrack
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu


async def mctui_join_latency(runs: int) -> list[float]:
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu())
    host = await tone_client(server.url, "host", 440)
    room = host.make_call(CallType.DEFAULT, "latency")
    await room.join()
    results = []
    try:
        for i in range(runs):
            guest = await tone_client(server.url, f"guest{i}", None)
            call = guest.make_call(CallType.DEFAULT, "latency")
            start = time.perf_counter()
            await call.join()
            transport = call._media.transport
            assert transport is not None
            await asyncio.wait_for(transport.first_frame, 10)  # type: ignore[attr-defined]
            results.append((time.perf_counter() - start) * 1000)
            await guest.disconnect()
    finally:
        await host.disconnect()
        await server.stop()
    return results


async def bare_aiortc_latency(runs: int) -> list[float]:
    results = []
    for _ in range(runs):
        a, b = new_peer_connection(), new_peer_connection()
        track = CaptureTrack()

        async def feed(track: CaptureTrack = track) -> None:
            import numpy as np

            signal = np.zeros(960, dtype=np.float32) + 0.1
            while True:  # a stand-in microphone: cancelled below
                track.push(signal)
                await asyncio.sleep(0.02)

        feeder = asyncio.get_running_loop().create_task(feed())
        got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        @b.on("track")
        def on_track(remote, got=got) -> None:  # type: ignore[no-untyped-def]
            async def first() -> None:
                await remote.recv()
                if not got.done():
                    got.set_result(time.perf_counter())

            asyncio.get_running_loop().create_task(first())

        start = time.perf_counter()
        a.addTransceiver(track, direction="sendonly")
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        end = await asyncio.wait_for(got, 10)
        results.append((end - start) * 1000)
        feeder.cancel()
        await a.close()
        await b.close()
    return results


async def main(runs: int = 20) -> None:
    baseline = await bare_aiortc_latency(runs)
    measured = await mctui_join_latency(runs)
    ours, base = summary(measured), summary(baseline)
    emit(
        "join_latency",
        {
            "join_latency": {
                **ours,
                "baseline_p50_ms": base["p50_ms"],
                "baseline": base,
                "ratio_p50": round(ours["p50_ms"] / base["p50_ms"], 2),
            }
        },
    )


if __name__ == "__main__":
    import sys

    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
