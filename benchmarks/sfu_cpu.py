"""The embedded SFU's capacity: participants in one room per core of the server process.

The server runs as its own process (``mctui serve``) so its CPU is measured alone. N light
participants (``sfu_load.py``: real connections, pre-encoded Opus out, packets only counted in,
so the clients are not what saturates this 2-core machine) join one room; each publishes and
receives the N-1 others, so the SFU forwards N*(N-1) streams. A size *holds* when the server uses
at most 80 % of one core and every stream flows (each participant received at least 90 % of the
packets of each other one over the window). The sweep doubles N until a size does not hold,
then bisects: the knee is the largest size that holds. CPU per participant is reported beside
it (the SFU's work grows with N*(N-1) streams, so it rises with N); per-stream figures are shown
per row for reference. The load processes' own CPU is reported too (how many cores the load used).

The same sweep runs with Janus as the SFU (Debian's ``janus``, one instance, in the tests' NetLab:
Janus in the server's namespace, the coordinator and the load in the clients'), its CPU read
from the Janus process: the embedded SFU against Janus, on the same harness in the same run.

Usage: ``python sfu_cpu.py [seconds] [start]`` (defaults 6 and 4).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import SECRET, emit

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
PER_PROCESS = 12  # light participants per load process
CPU_LIMIT = 80.0
JANUS_KEY = "benchmark-janus-admin-key"
FLOWING = 0.9


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def start_server_process(
    *extra: str, prefix: tuple[str, ...] = ()
) -> tuple[asyncio.subprocess.Process, str]:
    """``mctui serve`` (``prefix``: e.g. ``ip netns exec NS``, which execs: same PID)."""
    proc = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "mctui", "serve", "--port", "0", "--secret", SECRET,
        "--log-file", "/dev/null", *extra, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, line.split("listening on ")[1].split()[0]


async def counts(loads: list[asyncio.subprocess.Process]) -> dict[str, dict[str, int]]:
    """Packets each participant received per publisher since the last call."""
    merged: dict[str, dict[str, int]] = {}
    for load in loads:
        assert load.stdin is not None and load.stdout is not None
        load.stdin.write(b"counts\n")
        await load.stdin.drain()
        merged.update(json.loads(await asyncio.wait_for(load.stdout.readline(), 30)))
    return merged


class Bed:
    """Where the SFU and the load run: this machine's loopback (embedded SFU), or a NetLab with
    a Janus instance in the server's namespace and the coordinator and load in the clients'."""

    def __init__(self, janus_url: str | None = None, janus_pid: int = 0, ns: str = "") -> None:
        self.janus_url, self.janus_pid = janus_url, janus_pid
        self.prefix: tuple[str, ...] = ("ip", "netns", "exec", ns) if ns else ()

    async def server(self) -> tuple[asyncio.subprocess.Process, str, int]:
        """The coordinator, its URL, and the PID whose CPU is the SFU's."""
        if self.janus_url is None:
            proc, url = await start_server_process()
            return proc, url, proc.pid
        proc, url = await start_server_process(
            "--sfu", "janus", "--janus", self.janus_url, "--janus-admin-key", JANUS_KEY,
            prefix=self.prefix,
        )  # fmt: skip
        return proc, url, self.janus_pid


async def measure(participants: int, seconds: float, bed: Bed | None = None) -> dict[str, Any]:
    bed = bed or Bed()
    server, url, sfu_pid = await bed.server()
    loads: list[asyncio.subprocess.Process] = []
    try:
        for first in range(0, participants, PER_PROCESS):
            load = await asyncio.create_subprocess_exec(
                *bed.prefix, sys.executable, str(HERE / "sfu_load.py"), url, "load", str(first),
                str(min(PER_PROCESS, participants - first)), str(participants),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=HERE,
            )  # fmt: skip
            assert load.stdout is not None
            line = await asyncio.wait_for(load.stdout.readline(), 120)
            if b"LOAD READY" not in line:
                raise SystemExit(f"a load process did not start: {line!r}")
            loads.append(load)
        await asyncio.sleep(2.0)  # every connection up and flowing
        await counts(loads)
        cpu0, t0 = cpu_seconds(sfu_pid), time.monotonic()
        load0 = sum(cpu_seconds(x.pid) for x in loads)
        await asyncio.sleep(seconds)
        received = await counts(loads)
        elapsed = time.monotonic() - t0
        percent = 100.0 * (cpu_seconds(sfu_pid) - cpu0) / elapsed
        load_percent = 100.0 * (sum(cpu_seconds(x.pid) for x in loads) - load0) / elapsed
        expected = 50 * elapsed
        users = [f"load{i}" for i in range(participants)]
        flowing = sum(
            1
            for user in users
            for other in users
            if other != user and received.get(user, {}).get(other, 0) >= FLOWING * expected
        )
        streams = participants * (participants - 1)
        return {
            "participants": participants,
            "streams": streams,
            "streams_flowing": flowing,
            "cpu_percent": round(percent, 1),
            "cpu_percent_per_participant": round(percent / participants, 2),
            "cpu_percent_per_stream": round(percent / max(1, streams), 3),
            "load_processes": len(loads),
            "load_cpu_percent": round(load_percent, 1),
            "holds": percent <= CPU_LIMIT and flowing == streams,
        }
    finally:
        for load in loads:
            if load.stdin is not None:
                load.stdin.close()
        for load in loads:
            try:
                await asyncio.wait_for(load.wait(), 20)
            except TimeoutError:
                load.kill()
                await load.wait()
        server.terminate()
        await server.wait()


async def sweep(seconds: float, start: int, bed: Bed) -> dict[str, Any]:
    """Double, then bisect, to the largest room that holds."""
    rows: dict[int, dict[str, Any]] = {}

    async def holds(n: int) -> bool:
        if n not in rows:
            rows[n] = await measure(n, seconds, bed)
            print(json.dumps(rows[n]), file=sys.stderr, flush=True)
        return bool(rows[n]["holds"])

    good, n = 0, start
    while await holds(n):  # double until a size does not hold
        good, n = n, n * 2
    bad = n
    while bad - good > 1:  # then bisect
        middle = (good + bad) // 2
        if await holds(middle):
            good = middle
        else:
            bad = middle
    knee = rows.get(good)
    return {
        "rows": [rows[k] for k in sorted(rows)],
        "knee_participants": good,
        "cpu_percent_at_knee": knee["cpu_percent"] if knee else None,
        "cpu_percent_per_participant": knee["cpu_percent_per_participant"] if knee else None,
        "load_processes_at_knee": knee["load_processes"] if knee else None,
        "load_cpu_percent_at_knee": knee["load_cpu_percent"] if knee else None,
    }


async def janus_sweep(seconds: float, start: int) -> dict[str, Any]:
    """The same sweep with Janus (one instance) as the SFU, in a NetLab (tests' janus_lab)."""
    import janus_lab

    try:
        with janus_lab.one_instance(JANUS_KEY) as (lab, url, pid):
            result = await sweep(seconds, start, Bed(url, pid, lab.client_ns))
            result["server"] = "janus 1.1 (C), one instance"
            return result
    except Exception as exc:  # the embedded figures still count
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


async def main(seconds: float, start: int) -> None:
    embedded = await sweep(seconds, start, Bed())
    janus = await janus_sweep(seconds, start)
    emit("sfu", {"sfu": {**embedded, "janus": janus}})


if __name__ == "__main__":
    asyncio.run(
        main(
            float(sys.argv[1]) if len(sys.argv) > 1 else 6.0,
            int(sys.argv[2]) if len(sys.argv) > 2 else 4,
        )
    )
