"""Run in its own process by test_audio_device: a JACK device vanishes under a call.

Its own process because a vanished JACK server leaves PortAudio wedged for the rest of the process
(mctui then stops touching it). Prints one JSON line with what the client saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from jack import JackServer


async def main(url: str, secret: str) -> dict[str, object]:
    from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
    from mctui.audio.backends import NullBackend
    from mctui.audio.sounddevice_backend import SoundDeviceBackend
    from mctui.server.tokens import issue_token

    user = Client(
        url,
        User("user"),
        issue_token(secret, "user"),
        ClientOptions(
            audio_device=SoundDeviceBackend(),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        ),
    )
    await user.connect()
    call = user.make_call(CallType.DEFAULT, "room")
    await call.join()
    before = user.audio.backend.name
    jack.stop()  # the device goes away under the call
    async with asyncio.timeout(10):
        notice = await user.state.observe("audio_notice").wait_for(lambda n: n is not None)
    frames = user.audio.frames
    await asyncio.sleep(0.3)
    result = {
        "before": before,
        "notice": notice,
        "null": isinstance(user.audio.backend, NullBackend),
        "clock_runs": user.audio.frames > frames,
        "connection": str(call.state.connection),
        "participants": [p.user.id for p in call.state.participants],
    }
    await user.disconnect()
    return result


if __name__ == "__main__":
    jack = JackServer()
    jack.start()
    os.environ["JACK_DEFAULT_SERVER"] = jack.name
    try:
        print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))), flush=True)
    finally:
        jack.stop()
