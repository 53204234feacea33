"""Who talks in every room: speaking activity from the SFU (RFC 6464 levels in RTP headers).

A suspended room plays nothing, yet its pane must show who is talking there: that is how a user
monitoring several rooms knows where to switch to.
"""

from __future__ import annotations

import asyncio

import pytest

from helpers import wait_until
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.backends import MemoryBackend
from mctui.server.tokens import issue_token
from spectrum import band_level_db
from testbed import SECRET


def speaking(call, user_id):  # type: ignore[no-untyped-def]
    return next(
        (p for p in call.state.remote_participants if p.user.id == user_id and p.is_speaking),
        None,
    )


@pytest.mark.both_sfus
async def test_suspended_room_shows_who_speaks_and_plays_nothing(sfu_server, bots):
    await bots("bot-a", 440, "room-a")
    bot_b = await bots("bot-b", 660, "room-b")
    await bot_b.call.set_microphone_enabled(False)  # silent until the test starts the clock
    backend = MemoryBackend(None)
    user = Client(
        sfu_server.url,
        User("user"),
        issue_token(SECRET, "user"),
        ClientOptions(
            audio_device=backend, audio_configuration_policy=AudioConfigurationPolicy.hifi()
        ),
    )
    await user.connect()
    try:
        a = user.make_call(CallType.DEFAULT, "room-a")
        b = user.make_call(CallType.DEFAULT, "room-b")
        await b.join()
        await a.join()  # suspend-existing: room-b is now suspended
        assert b.state.is_audio_suspended
        await wait_until(b.state, "participants", lambda ps: any(p.user.id == "bot-b" for p in ps))
        await asyncio.sleep(0.5)
        assert speaking(b, "bot-b") is None

        await bot_b.call.set_microphone_enabled(True)
        await wait_until(b.state, "participants", lambda ps: speaking(b, "bot-b") is not None)
        bot = speaking(b, "bot-b")
        assert bot is not None and bot.audio_level > -20 and not bot.heard

        backend.clear_output()
        await asyncio.sleep(1.0)
        mix = backend.output()
        assert band_level_db(mix, 440) > -30  # the focused room plays
        assert band_level_db(mix, 660) < band_level_db(mix, 440) - 40  # the suspended one not
        heard_a = [p for p in a.state.remote_participants if p.user.id == "bot-a"]
        assert heard_a and heard_a[0].heard

        await bot_b.call.set_microphone_enabled(False)
        await wait_until(b.state, "participants", lambda ps: speaking(b, "bot-b") is None)
    finally:
        await user.disconnect()
