"""Focus switch: from ``switch_focus()`` until the speaker mix carries only the target room.

Rooms A and B each have a bot (440 Hz / 660 Hz). Every frame of the user's speaker mix is checked
for both tones; a switch is complete at the first frame where the target is present and the other
tone is at least 30 dB below it. Time is measured on the loop clock, to the end of that frame
(the device tick that writes it, plus the frame's 20 ms).
"""

from __future__ import annotations

import asyncio
import random
import sys

from common import SECRET, emit, summary
from probe import ProbeBackend, tone_power_db

from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.bots import Bot, tone
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.tokens import issue_token

TONES = {"a": 440.0, "b": 660.0}


async def main(switches: int = 200) -> None:
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu())
    bots = [
        Bot(server.url, User(f"bot-{r}"), issue_token(SECRET, f"bot-{r}"), tone(hz), room=r)
        for r, hz in TONES.items()
    ]
    for bot in bots:
        await bot.start()
    backend = ProbeBackend()
    user = Client(
        server.url,
        User("user"),
        issue_token(SECRET, "user"),
        ClientOptions(
            audio_device=backend,
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        ),
    )
    await user.connect()
    calls = {r: user.make_call(CallType.DEFAULT, r) for r in TONES}
    for call in calls.values():
        await call.join()
    await asyncio.sleep(2.0)
    loop = asyncio.get_running_loop()
    results: list[float] = []
    target = "b"
    try:
        for _ in range(switches):
            other = "a" if target == "b" else "b"
            done: asyncio.Future[float] = loop.create_future()

            def check(now: float, frame, target=target, other=other, done=done) -> None:  # type: ignore[no-untyped-def]
                on = tone_power_db(frame, TONES[target])
                off = tone_power_db(frame, TONES[other])
                if not done.done() and on > -30 and off < on - 30:
                    done.set_result(now + 0.020)  # the clean frame has played at its end

            start = loop.time()
            backend.on_output = check
            await user.switch_focus(calls[other], calls[target])
            end = await asyncio.wait_for(done, 5)
            backend.on_output = None
            results.append((end - start) * 1000)
            target = other
            # a random phase against the 20 ms device clock, or every switch would land just
            # after a tick and measure a whole frame
            await asyncio.sleep(0.05 + random.uniform(0.0, 0.02))
    finally:
        await user.disconnect()
        for bot in bots:
            await bot.stop()
        await server.stop()
    emit("focus_switch", {"focus_switch": summary(results)})


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
