"""Participants' levels in a call's state come from what is played (real media through the SFU)."""

from __future__ import annotations

import asyncio

import pytest


async def test_remote_levels_reach_call_state(media_client, bots):
    await bots("tone", 440, "metered")
    alice = await media_client("alice")
    call = alice.make_call("default", "metered")
    await call.join()
    from helpers import wait_until

    await wait_until(
        call.state,
        "participants",
        lambda ps: any(p.user.id == "tone" and p.audio_level > -20 for p in ps),
        timeout=10,
    )
    await asyncio.sleep(1.0)  # past the codec's start-up
    bot = next(p for p in call.state.participants if p.user.id == "tone")
    assert bot.audio_level == pytest.approx(-9.0, abs=2.0)  # 0.5 amplitude sine through Opus
    assert bot.is_speaking
