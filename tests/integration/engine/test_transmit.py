"""Transmit without moving the focus (a console's "patch"), with real media on both SFUs: the
user's microphone (a 1 kHz tone) reaches the focused room and the room patched in, and no other
background room; the speaker focus does not move; a viewer's room and a room muted by hand are
refused; leaving clears the patch."""

from __future__ import annotations

import asyncio

import pytest

from helpers import wait_until
from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, MultiCallAudioPolicy
from mctui.audio.backends import MemoryBackend
from mctui.bots.signals import tone
from mctui.errors import InvalidStateError, PermissionDeniedError
from spectrum import band_level_db
from testbed import connected_client

MIC_HZ = 1000


async def heard_db(bot, hz: float = MIC_HZ) -> float:  # type: ignore[no-untyped-def]
    """The mic tone's level in what ``bot`` heard over the next second."""
    await asyncio.sleep(0.4)  # what was sent before the change has played out
    bot.backend.clear_output()
    await asyncio.sleep(1.0)
    return band_level_db(bot.heard(1.0), hz)


@pytest.mark.slow
@pytest.mark.both_sfus
async def test_the_mic_reaches_the_patched_room_and_no_other(sfu_server, bots) -> None:  # type: ignore[no-untyped-def]
    listeners = {room: await bots(f"bot-{room}", None, room) for room in ("a", "b", "c")}
    user: Client = await connected_client(
        sfu_server.url, "user",
        ClientOptions(
            multi_call_audio_policy=MultiCallAudioPolicy.SUSPEND_EXISTING,
            audio_device=MemoryBackend(tone(MIC_HZ, 0.5)),
            audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        ),
        {}, [],
    )  # fmt: skip
    try:
        calls = {room: user.make_call(CallType.DEFAULT, room) for room in ("a", "b", "c")}
        for room, call in calls.items():
            await call.join()
            await wait_until(call.state, "participants", lambda ps, r=room: any(
                p.user.id == f"bot-{r}" for p in ps))  # type: ignore[misc]  # fmt: skip
        assert user.state.focused_call is calls["c"]  # joined last: a and b wait, suspended
        assert await heard_db(listeners["c"]) > -30
        assert await heard_db(listeners["a"]) < -70

        await calls["a"].set_transmit(True)
        assert calls["a"].state.transmit and calls["a"].state.is_capturing
        assert user.state.focused_call is calls["c"]  # the speaker focus did not move
        assert calls["a"].state.is_audio_suspended  # ... nor did a's speaker
        assert await heard_db(listeners["a"]) > -30
        assert await heard_db(listeners["c"]) > -30
        assert await heard_db(listeners["b"]) < -70  # the other background room: nothing

        # a focus switch keeps the patch: c goes to the background, a stays patched
        await user.switch_focus(calls["c"], calls["b"])
        assert await heard_db(listeners["b"]) > -30
        assert await heard_db(listeners["a"]) > -30
        assert await heard_db(listeners["c"]) < -70

        # a hand mute wins over the patch and a muted room cannot be patched
        await calls["a"].set_microphone_enabled(False)
        assert not calls["a"].state.transmit
        assert await heard_db(listeners["a"]) < -70
        with pytest.raises(InvalidStateError, match="muted"):
            await calls["a"].set_transmit(True)

        # leaving clears it
        await calls["a"].set_microphone_enabled(True)
        await calls["a"].set_transmit(True)
        await calls["a"].leave()
        assert not calls["a"].state.transmit
    finally:
        await user.disconnect()


async def test_a_viewer_is_never_patched_in(media_client) -> None:  # type: ignore[no-untyped-def]
    host = await media_client("host", 440)
    await host.make_call(CallType.LIVESTREAM, "show").join()
    viewer = await media_client("viewer")
    show = viewer.make_call(CallType.LIVESTREAM, "show")
    await show.join()
    with pytest.raises(PermissionDeniedError, match="only listen"):
        await show.set_transmit(True)
    assert not show.state.transmit and not show.state.is_capturing
