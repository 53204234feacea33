"""Where the server secret comes from: a flag, a file, ``MCTUI_SECRET``, or a per-user file.

``mctui serve`` and ``mctui token`` find the same secret with no flags at all: the first use creates
``secret`` in the user config directory (platformdirs: ``~/.config/mctui/secret`` on Linux, mode
0600) with a random value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_config_path


class SecretError(ValueError):
    """The secret could not be read (missing file, empty file)."""


def default_secret_path() -> Path:
    return user_config_path("mctui") / "secret"


def load_secret(secret: str | None = None, secret_file: Path | None = None) -> str:
    """The secret to sign and verify tokens with, by precedence: flag, file, env, default file."""
    if secret:
        return secret
    if secret_file is not None:
        try:
            value = secret_file.read_text().strip()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {secret_file}: {exc.strerror}") from exc
        if not value:
            raise SecretError(f"secret file {secret_file} is empty")
        return value
    env = os.environ.get("MCTUI_SECRET")
    if env:
        return env
    path = default_secret_path()
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
