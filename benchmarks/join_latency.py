"""join() -> first remote audio packet, through the embedded SFU on 127.0.0.1, against a fair
baseline, with where the time goes.

Like for like: both sides use mctui's peer connection class with the same (default, loopback)
candidate policy, and both stop the clock when the first RTP audio packet is handed over by the
receiver (``take_audio_packets``), before any jitter buffer or decoder: no jitter settings on
either side. The baseline is one bare offer/answer between two connections in one process whose
sender is already producing audio; mctui's join is the real thing (a guest joining a room where a
host talks): the coordinator's ``join_call``, the publisher and subscriber offers through the
coordinator to the SFU (in the same process and loop, as the baseline's two ends are), ICE and
DTLS, and the SFU's hop.

The breakdown (medians) splits each join by the moments the client sees: the ``join_call``
reply, each SFU answer, the subscriber connection connected, the first packet.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from common import SECRET, emit, summary, tone_client

from mctui import CallType
from mctui import protocol as p
from mctui.rtc.peer import new_peer_connection, take_audio_packets
from mctui.rtc.tracks import CaptureTrack
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu


class Stopwatch:
    """Times a client's requests by type, from one join's start."""

    def __init__(self, client: Any) -> None:
        self.start = 0.0
        self.marks: dict[str, float] = {}
        request = client.request

        async def timed(kind: type, reply: type, **fields: Any) -> Any:
            result = await request(kind, reply, **fields)
            name = kind.model_fields["type"].default
            if kind is p.SfuSignalRequest:
                name = f"{fields['role']}_answer"
            self.marks.setdefault(name, (time.perf_counter() - self.start) * 1000)
            return result

        client.request = timed

    def begin(self) -> None:
        self.start, self.marks = time.perf_counter(), {}


async def mctui_join_latency(
    runs: int, sfu: Any = None
) -> tuple[list[float], list[dict[str, float]]]:
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=sfu or EmbeddedSfu())
    host = await tone_client(server.url, "host", 440)
    room = host.make_call(CallType.DEFAULT, "latency")
    await room.join()
    results, breakdowns = [], []
    try:
        for i in range(runs):
            guest = await tone_client(server.url, f"guest{i}", None)
            watch = Stopwatch(guest)
            call = guest.make_call(CallType.DEFAULT, "latency")
            watch.begin()
            loop_start = asyncio.get_running_loop().time()
            await call.join()
            transport = call._media.transport
            first = await asyncio.wait_for(transport.first_frame, 10)  # type: ignore[union-attr]
            results.append((first - loop_start) * 1000)
            marks = {k: v for k, v in watch.marks.items() if v <= results[-1]}
            for role, at in transport.connected_at.items():  # type: ignore[union-attr]
                marks[f"{role}_connected"] = (at - loop_start) * 1000
            marks["first_packet"] = results[-1]
            breakdowns.append(marks)
            await guest.disconnect()
    finally:
        await host.disconnect()
        await server.stop()
    return results, breakdowns


async def bare_aiortc_latency(runs: int) -> list[float]:
    """createOffer -> first packet at the receiver, two connections, same class and policy."""
    import numpy as np

    results = []
    for _ in range(runs):
        a, b = new_peer_connection(), new_peer_connection()
        track = CaptureTrack()

        async def feed(track: CaptureTrack = track) -> None:
            signal = np.zeros(960, dtype=np.float32) + 0.1
            while True:  # a stand-in microphone: cancelled below
                track.push(signal)
                await asyncio.sleep(0.02)

        feeder = asyncio.get_running_loop().create_task(feed())
        got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        def first(_transceiver: Any, _packet: Any, got: asyncio.Future[float] = got) -> None:
            if not got.done():
                got.set_result(time.perf_counter())

        start = time.perf_counter()
        a.addTransceiver(track, direction="sendonly")
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        take_audio_packets(b, first)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        end = await asyncio.wait_for(got, 10)
        results.append((end - start) * 1000)
        feeder.cancel()
        await a.close()
        await b.close()
    return results


def _medians(breakdowns: list[dict[str, float]]) -> dict[str, float]:
    keys = breakdowns[0].keys() if breakdowns else []
    return {k: round(statistics.median(b[k] for b in breakdowns if k in b), 1) for k in keys}


JANUS_KEY = "benchmark-janus-admin-key"


def janus_join_latency(runs: int) -> dict[str, Any]:
    """The same join on Janus (one instance in the tests' NetLab; this script re-runs itself in
    the clients' namespace with ``--janus URL``, where the coordinator and clients live)."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "support"))
    import janus_lab

    try:
        with janus_lab.one_instance(JANUS_KEY) as (lab, url, _):
            result = lab.run(
                lab.client_ns, [sys.executable, __file__, str(runs), "--janus", url], timeout=300
            )
    except RuntimeError as exc:
        return {"error": str(exc)}
    lines = [x for x in result.stdout.splitlines() if x.startswith("{")]
    if result.returncode != 0 or not lines:
        return {"error": f"exit {result.returncode}: {result.stderr[-300:]}"}
    return dict(json.loads(lines[-1]))


async def janus_inner(runs: int, url: str) -> dict[str, Any]:
    from mctui.server.janus_sfu import JanusSfu

    measured, breakdowns = await mctui_join_latency(runs, JanusSfu([url], JANUS_KEY))
    return {**summary(measured), "breakdown_p50_ms": _medians(breakdowns)}


async def main(runs: int = 20) -> None:
    baseline = await bare_aiortc_latency(runs)
    measured, breakdowns = await mctui_join_latency(runs)
    ours, base = summary(measured), summary(baseline)
    emit(
        "join_latency",
        {
            "join_latency": {
                **ours,
                "baseline_p50_ms": base["p50_ms"],
                "baseline": base,
                "ratio_p50": round(ours["p50_ms"] / base["p50_ms"], 2),
                "breakdown_p50_ms": _medians(breakdowns),
                "like_for_like": "same peer connection class and candidate policy; both timed "
                "to the first RTP packet, no jitter buffer on either side",
                "janus": janus_join_latency(runs),
            }
        },
    )


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if "--janus" in sys.argv:
        janus_url = sys.argv[sys.argv.index("--janus") + 1]
        print(json.dumps(asyncio.run(janus_inner(count, janus_url))))
    else:
        asyncio.run(main(count))
