"""User tokens: JWTs (HS256) signed with the server secret.

``sub`` is the user id, ``name`` the display name, ``exp`` the expiry. The coordinator accepts a
connection only with a token that verifies against its own secret and has not expired.
"""

from __future__ import annotations

import re
import time

import jwt

from mctui.errors import AuthError

ALGORITHM = "HS256"
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``"90"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"`` -> seconds (ValueError otherwise)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h or d, e.g. 1h")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def issue_token(secret: str, user_id: str, name: str = "", ttl_seconds: int = 3600) -> str:
    """A signed token for ``user_id`` that expires after ``ttl_seconds``."""
    now = int(time.time())
    claims = {"sub": user_id, "name": name or user_id, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str | None) -> tuple[str, str, float]:
    """Check a token; returns (user_id, name, expires_at) or raises ``AuthError`` saying why."""
    if not token:
        raise AuthError("missing token: pass a token made with `mctui token USER`")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired: make a new one with `mctui token USER`") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token ({exc})") from exc
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id:
        raise AuthError("invalid token (no user id)")
    name = claims.get("name")
    return user_id, name if isinstance(name, str) else user_id, float(claims["exp"])
