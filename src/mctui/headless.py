"""Headless mode: JSON events out, simple commands in (placeholder until the demo issue)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mctui.engine import Client


async def run_headless(
    connect: Callable[[], Awaitable[Client]], rooms: list[str], events: str
) -> int:
    raise NotImplementedError("headless mode arrives with the demo issue")
