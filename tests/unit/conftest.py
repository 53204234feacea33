"""The unit tier: no sockets and no processes. Each test here runs with both refused, so a test
that needs either says so by failing, and belongs in ``integration/`` or ``lab/``.

asyncio's own wake-up pipe (``socket.socketpair``) is allowed: it never binds or connects."""

from __future__ import annotations

import socket
import subprocess
from typing import NoReturn

import pytest


class TierError(RuntimeError):
    """A unit test reached for a socket or a process."""


def _refuse(what: str):  # type: ignore[no-untyped-def]
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise TierError(f"a unit test may not {what}: move the test to tests/integration/")

    return refuse


@pytest.fixture(scope="session", autouse=True)
def _libraries_loaded() -> None:
    """Libraries load once per process, before the guard: ctypes finds libopus with ldconfig."""
    from mctui.client_media.opus import OpusDecoder

    OpusDecoder()


@pytest.fixture(autouse=True)
def _no_sockets_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("bind", "connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, _refuse(f"use a socket ({name})"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("start a process"))
