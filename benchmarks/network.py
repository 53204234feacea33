"""Audio over an impaired network: mouth-to-ear and frames played at 0 / 5 / 10 / 20 % loss with
40 +- 20 ms delay each way, through the embedded SFU; and join -> first audio with and without
trickle ICE when a STUN server answers slowly.

The network is the tests' ``netlab``: ``mctui serve`` in one namespace, the clients in another,
joined by our impairing forwarder (nothing leaves this machine's namespaces). The clients of one
run live in one process inside the clients' namespace (this script re-runs itself there with
``--inner``), so the talker's capture and the listener's playout share one clock:

- the talker's device plays a click every 500 ms; mouth = the start of the capture frame that
  carries it, ear = the end of the playout frame where it is first heard; a clean run that loses
  a click, or any run with none, is an error instead of a figure (on a lossy path the clicks in
  lost packets are lost: concealment does not invent a click);
- frames played = the listener's playout counters over the run: frames played from a packet plus
  frames concealed (lost or late), over the device frames that passed; concealed is shown too.

Usage: ``python network.py [seconds] [losses]``, e.g. ``python network.py 20 0,0.05,0.1,0.2``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import SECRET, emit, summary
from probe import ClickTimer, ProbeBackend, click_track

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

DELAY_MS, JITTER_MS = 40, 20


async def inner(url: str, seconds: float) -> dict[str, Any]:
    """Talker and listener in this process (inside the clients' namespace)."""
    from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
    from mctui.server.tokens import issue_token

    async def client(user: str, backend: ProbeBackend) -> Client:
        options = ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi()
        )
        c = Client(url, User(user), issue_token(SECRET, user), options)
        await c.connect()
        await c.make_call(CallType.DEFAULT, "net").join()
        return c

    mouth, ear = ProbeBackend(click_track()), ProbeBackend()
    timer = ClickTimer()

    talker = await client("talker", mouth)
    listener = await client("listener", ear)
    await asyncio.sleep(2.0)
    call = listener.state.active_calls[0]
    transport = call._media.transport
    assert transport is not None
    before = dataclasses.replace(transport.receive_stats()["talker"])
    frames_before = ear.frames_processed
    mouth.on_input, ear.on_output = timer.on_input, timer.on_output
    await asyncio.sleep(seconds)
    mouth.on_input = ear.on_output = None
    after = transport.receive_stats()["talker"]
    frames = ear.frames_processed - frames_before
    await talker.disconnect()
    await listener.disconnect()
    sent, delays = timer.sent, timer.delays_ms()
    played = after.played - before.played
    concealed = after.concealed - before.concealed
    return {
        "clicks": len(sent),
        "clicks_lost": len(sent) - len(delays),
        "mouth_to_ear": summary(delays),
        # the counters and the device's frame count are read a few ms apart: cap at 100
        "frames_played_percent": min(100.0, round(100 * (played + concealed) / max(frames, 1), 2)),
        "frames_concealed_percent": round(100 * concealed / max(frames, 1), 2),
        "late_packets": after.late - before.late,
    }


async def join_to_first_audio(trickle: bool, runs: int) -> dict[str, Any]:
    """On 127.0.0.1, a STUN server that answers after 300 ms: join -> first audio packet."""
    from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
    from mctui.audio.backends import MemoryBackend
    from mctui.network import IceServer, NetworkPolicy
    from mctui.server.app import start_server
    from mctui.server.embedded_sfu import EmbeddedSfu
    from mctui.server.tokens import issue_token
    from stun_server import start_stun

    responder, port = await start_stun(0.3)
    ice = (IceServer(f"stun:127.0.0.1:{port}"),)
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu(NetworkPolicy()))
    times: list[float] = []
    try:
        tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000)).astype(np.float32)
        options = ClientOptions(
            audio_device=MemoryBackend(tone),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        )
        bot = Client(server.url, User("bot"), issue_token(SECRET, "bot"), options)
        await bot.connect()
        await bot.make_call(CallType.DEFAULT, "join").join()
        for i in range(runs):
            user = f"u{i}"
            opts = ClientOptions(
                audio_device=MemoryBackend(None),
                audio_configuration_policy=AudioConfigurationPolicy.hifi(),
                ice_servers=ice,
                trickle_ice=trickle,
            )
            client = Client(server.url, User(user), issue_token(SECRET, user), opts)
            await client.connect()
            call = client.make_call(CallType.DEFAULT, "join")
            started = asyncio.get_running_loop().time()
            await call.join()
            transport = call._media.transport
            await asyncio.wait_for(transport.first_frame, 10)  # type: ignore[union-attr]
            times.append((transport.first_frame.result() - started) * 1000)  # type: ignore[union-attr]
            await client.disconnect()
        await bot.disconnect()
    finally:
        await server.stop()
        responder.transport.close()
    return summary(times)


def outer(seconds: float, losses: list[float]) -> dict[str, Any]:
    import netlab

    why = netlab.available()
    if why is not None:
        raise SystemExit(f"network benchmark: {why}")
    lab = netlab.NetLab().start()
    rows = []
    try:
        server = lab.popen(
            lab.server_ns,
            [sys.executable, "-m", "mctui", "serve", "--host", netlab.SERVER_IP,
             "--port", "8470", "--secret", SECRET, "--log-file", "/dev/null"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        netlab.wait_for_line(server, "listening")
        url = f"http://{netlab.SERVER_IP}:8470"
        for loss in losses:
            lab.impair(loss=loss, delay_ms=DELAY_MS, jitter_ms=JITTER_MS)
            started = time.monotonic()
            result = lab.run(
                lab.client_ns,
                [sys.executable, __file__, "--inner", url, str(seconds)],
                timeout=seconds + 120,
            )
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode != 0 or not lines:
                raise SystemExit(f"inner run failed: {result.stderr[-2000:]}")
            row = json.loads(lines[-1])
            row["loss_percent"] = round(loss * 100)
            row["seconds"] = round(time.monotonic() - started, 1)
            # a click rides in one packet: on a lossy path some are lost with it (that is
            # what frames_concealed counts); on a clean one none may be, and a run without
            # clicks measured nothing
            if row["clicks"] == 0 or (loss == 0 and row["clicks_lost"] > 0):
                row["error"] = f"{row['clicks_lost']} of {row['clicks']} clicks lost"
            rows.append(row)
    finally:
        lab.stop()
    return {"delay_ms": DELAY_MS, "jitter_ms": JITTER_MS, "rows": rows}


def main() -> None:
    if "--inner" in sys.argv:
        index = sys.argv.index("--inner")
        url, seconds = sys.argv[index + 1], float(sys.argv[index + 2])
        print(json.dumps(asyncio.run(inner(url, seconds))))
        return
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    losses = [float(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "0,0.05,0.1,0.2").split(",")]
    result = outer(seconds, losses)
    result["join_trickle"] = asyncio.run(join_to_first_audio(True, 10))
    result["join_full_sdp"] = asyncio.run(join_to_first_audio(False, 10))
    emit("network", {"network": result})


if __name__ == "__main__":
    main()
