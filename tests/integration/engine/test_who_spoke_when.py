"""Who spoke when, from the SFU's levels in real calls: a suspended room's strip fills while
its bot talks, names the bot, and marks the speech unheard until the user focuses the room."""

from __future__ import annotations

import pytest

from helpers import wait_until
from mctui import CallType


@pytest.mark.slow
@pytest.mark.both_sfus
async def test_a_suspended_room_keeps_its_strip_and_unheard_mark(bots, media_client) -> None:  # type: ignore[no-untyped-def]
    await bots("talker", 440, "busy")
    user = await media_client("user")
    busy = user.make_call(CallType.DEFAULT, "busy")
    await busy.join()
    quiet = user.make_call(CallType.DEFAULT, "quiet")
    await quiet.join()  # busy goes to the background, suspended
    assert busy.state.is_audio_suspended
    await wait_until(busy.state, "activity", lambda a: sum(a.seconds) >= 3 and a.unheard, 15)
    activity = busy.state.activity
    assert activity.last_speaker == "talker" and activity.seconds[-1]
    assert activity.last_spoke_ago() is not None and activity.last_spoke_ago() < 2  # type: ignore[operator]
    assert sum(quiet.state.activity.seconds) == 0 and not quiet.state.activity.unheard
    await user.switch_focus(quiet, busy)
    assert not busy.state.activity.unheard  # heard now
    assert sum(busy.state.activity.seconds) >= 3  # the strip is kept
