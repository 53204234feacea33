"""Mouth to ear: a click in one client's microphone until it is in another client's speaker mix.

Both clients and the server run in this process on one loop clock. The talker's memory device
plays a click every 500 ms at the start of a frame. Mouth: the start of the capture frame that
carries it (one frame before the device tick that hands it over). Ear: the end of the first
playout frame that carries it (one frame after the tick that writes it). So the figure includes
the device frame on each side. A run that loses a click, or has none, fails instead of reporting.
"""

from __future__ import annotations

import asyncio
import sys

from common import SECRET, emit, summary
from probe import ClickTimer, ProbeBackend, click_track

from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.tokens import issue_token


async def client(url: str, user: str, backend: ProbeBackend) -> Client:
    c = Client(
        url,
        User(user),
        issue_token(SECRET, user),
        ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi()
        ),
    )
    await c.connect()
    await c.make_call(CallType.DEFAULT, "m2e").join()
    return c


async def main(clicks: int = 40) -> None:
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu())
    mouth, ear = ProbeBackend(click_track()), ProbeBackend()
    timer = ClickTimer()

    talker = await client(server.url, "talker", mouth)
    listener = await client(server.url, "listener", ear)
    await asyncio.sleep(2.0)
    mouth.on_input, ear.on_output = timer.on_input, timer.on_output
    await asyncio.sleep(clicks * 0.5 + 1.0)
    mouth.on_input = ear.on_output = None
    await talker.disconnect()
    await listener.disconnect()
    await server.stop()
    sent, delays = timer.sent, timer.delays_ms()
    result = summary(delays)
    result["median_ms"] = result.get("p50_ms", 0.0)
    result["clicks_lost"] = len(sent) - len(delays)
    result["clicks"] = len(sent)
    emit("mouth_to_ear", {"mouth_to_ear": result})
    if not sent or len(delays) < len(sent):
        raise SystemExit(f"mouth-to-ear: {len(sent) - len(delays)} of {len(sent)} clicks lost")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
