"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from mctui import Call, Client
from mctui.bots.signals import tone


async def wait_until(
    state: Any,
    name: str,
    predicate: Callable[[Any], bool],
    timeout: float = 5.0,
) -> Any:
    """Wait (without polling) until ``state.<name>`` satisfies ``predicate``."""
    async with asyncio.timeout(timeout):
        return await state.observe(name).wait_for(predicate)


async def wait_heard(
    call: Call, user_id: str, dbfs: float = -30, timeout: float = 10, *, played: bool = False
) -> None:
    """Wait until ``call`` shows ``user_id``'s audio above ``dbfs``: as the SFU sees them talk
    (suspended calls too), or with ``played`` from this client's own playout of their audio."""
    await wait_until(
        call.state, "participants",
        lambda ps: any(
            p.user.id == user_id and p.audio_level > dbfs and (p.heard or not played) for p in ps
        ),
        timeout,
    )  # fmt: skip


def unsuspended(client: Client) -> list[Call]:
    return [c for c in client.state.active_calls if not c.state.is_audio_suspended]


def speaker_holders(client: Client) -> list[Call]:
    return [c for c in client.state.active_calls if c.state.holds_speaker]


def mic_holders(client: Client) -> list[Call]:
    return [c for c in client.state.active_calls if c.state.holds_microphone]


def capturing(client: Client) -> list[Call]:
    return [c for c in client.state.active_calls if c.state.is_capturing]


def stereo_signal() -> np.ndarray:
    """440 Hz on the left, 660 Hz on the right."""
    return np.stack([tone(440, 0.5), tone(660, 0.5)], axis=1)
