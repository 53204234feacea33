"""CPU of the server process (coordinator + embedded SFU) with N participants in one room.

The server runs as its own process (``mctui serve``) so its CPU is measured alone; the N tone
clients run in this process. Each participant publishes a tone and receives the N-1 others, so the
SFU forwards N*(N-1) streams.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from common import SECRET, emit, tone_client

from mctui import CallType

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def start_server_process() -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mctui", "serve", "--port", "0", "--secret", SECRET,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, line.split("listening on ")[1].split()[0]


async def measure(participants: int, seconds: float) -> dict[str, float]:
    proc, url = await start_server_process()
    clients = []
    try:
        for i in range(participants):
            client = await tone_client(url, f"p{i}", 300 + 100 * i)
            await client.make_call(CallType.DEFAULT, "load").join()
            clients.append(client)
        await asyncio.sleep(2.0)  # let every subscriber renegotiate and settle
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        percent = 100.0 * (cpu1 - cpu0) / (t1 - t0)
        streams = participants * (participants - 1)
        return {
            "participants": participants,
            "streams": streams,
            "cpu_percent": round(percent, 1),
            "cpu_percent_per_stream": round(percent / streams, 2),
        }
    finally:
        for client in clients:
            await client.disconnect()
        proc.terminate()
        await proc.wait()


async def main(sizes: list[int], seconds: float) -> None:
    rows = [await measure(n, seconds) for n in sizes]
    knee = max(rows, key=lambda r: r["cpu_percent_per_stream"])
    emit(
        "sfu",
        {
            "sfu": {
                "rows": rows,
                "cpu_percent_per_stream": rows[-1]["cpu_percent_per_stream"],
                "max_per_stream_at": knee["participants"],
            }
        },
    )


if __name__ == "__main__":
    sizes = [int(x) for x in sys.argv[1].split(",")] if len(sys.argv) > 1 else [2, 6]
    asyncio.run(main(sizes, float(sys.argv[2]) if len(sys.argv) > 2 else 10.0))
