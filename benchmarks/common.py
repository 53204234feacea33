"""Shared benchmark plumbing: a server on 127.0.0.1, tone clients, stats and JSON output."""

from __future__ import annotations

import json
import platform
import statistics
import sys
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mctui import AudioConfigurationPolicy, Client, ClientOptions, User
from mctui.audio.backends import MemoryBackend
from mctui.server.tokens import issue_token

SECRET = "benchmark-secret-0123456789abcdefghijkl"


def tone(hz: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(48_000) / 48_000
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


async def tone_client(url: str, user_id: str, hz: float | None, **options: Any) -> Client:
    opts = ClientOptions(
        audio_device=MemoryBackend(tone(hz) if hz else None),
        audio_configuration_policy=AudioConfigurationPolicy.hifi(),
        **options,
    )
    client = Client(url, User(user_id), issue_token(SECRET, user_id), opts)
    await client.connect()
    return client


def summary(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {}
    p99_index = min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[p99_index], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


def machine() -> dict[str, str]:
    return {
        "host": platform.node(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
    }


def emit(name: str, result: dict[str, Any]) -> None:
    """Print one JSON object: the benchmark's name, machine, date and results."""
    record = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    print(json.dumps(record))
