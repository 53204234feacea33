"""User tokens: JWTs (HS256) signed with the server secret.

``sub`` is the user id, ``name`` the display name, ``exp`` the expiry. The coordinator accepts a
connection only with a token that verifies against its own secret and has not expired.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt

from mctui.errors import AuthError
from mctui.protocol import ID_PATTERN, MemberRole, has_control_characters

ALGORITHM = "HS256"
#: The longest lifetime the server accepts (and ``mctui token`` issues): a leaked token expires.
MAX_TOKEN_LIFETIME_S = 24 * 3600
_USER_ID = re.compile(ID_PATTERN)
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``"90"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"`` -> seconds (ValueError otherwise)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h or d, e.g. 1h")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def check_display_name(name: str) -> str:
    """``name`` if a terminal can show it as text (``ValueError`` for control characters: a
    name like ``Dave\\e[2J`` would clear the screen of anyone who shows it raw)."""
    if has_control_characters(name):
        raise ValueError(f"bad display name {name!r}: control characters are not allowed")
    return name


def check_user_id(user_id: str) -> str:
    """``user_id`` if it is 1-128 letters, digits, ``_ . - @``; else ``ValueError`` saying so."""
    if not _USER_ID.match(user_id):
        shown = user_id if len(user_id) <= 40 else user_id[:37] + "..."
        raise ValueError(f"bad user id {shown!r}: use 1-128 letters, digits, '_', '.', '-' or '@'")
    return user_id


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    name: str
    expires_at: float
    #: A call-scoped token (a guest's) may only join this call (``type:id``), not end or ring.
    call: str | None = None


def issue_token(
    secret: str,
    user_id: str,
    name: str = "",
    ttl_seconds: int = 3600,
    *,
    call: str | None = None,
    max_lifetime_s: int = MAX_TOKEN_LIFETIME_S,
) -> str:
    """A signed token for ``user_id`` that expires after ``ttl_seconds``, optionally scoped to
    one ``call`` (``ValueError`` for a bad user id or a lifetime over ``max_lifetime_s``)."""
    check_user_id(user_id)
    check_display_name(name)
    if ttl_seconds > max_lifetime_s:
        raise ValueError(
            f"a token may live at most {max_lifetime_s // 3600} h; ask for less (--ttl)"
        )
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id,
        "name": name or user_id,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if call is not None:
        claims["call"] = call
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


#: Marks a role claim (``typ``), so it is never taken for a user token, nor a token for it.
ROLE_CLAIM_TYPE = "mctui-role"


def issue_role_claim(
    secret: str, user_id: str, cid: str, role: str, ttl_seconds: int = MAX_TOKEN_LIFETIME_S
) -> str:
    """The server's signed word that ``user_id`` held ``role`` in call ``cid``: a client
    rejoining after a server restart shows it to get that role back, and only that one."""
    now = int(time.time())
    claims = {"typ": ROLE_CLAIM_TYPE, "sub": user_id, "cid": cid, "role": role,
              "iat": now, "exp": now + ttl_seconds}  # fmt: skip
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_role_claim(secret: str, claim: str | None, user_id: str, cid: str) -> MemberRole | None:
    """The role a claim signed by ``secret`` gives ``user_id`` in ``cid``; None for no claim,
    a forged or expired one, or one made for another user or call."""
    if not claim:
        return None
    try:
        claims = jwt.decode(claim, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != ROLE_CLAIM_TYPE or claims.get("sub") != user_id:
        return None
    role = claims.get("role")
    if claims.get("cid") != cid or role not in set(MemberRole):
        return None
    return MemberRole(role)


def issue_guest_token(
    secret: str,
    call: str,
    name: str = "",
    ttl_seconds: int = 2 * 3600,
    *,
    max_lifetime_s: int = MAX_TOKEN_LIFETIME_S,
) -> tuple[str, str]:
    """A guest's token for one ``call`` (``type:id``), under a fresh guest user id: (guest id,
    token). The same for invites the server signs and those ``mctui invite`` signs."""
    guest_id = f"guest-{secrets.token_hex(4)}"
    token = issue_token(
        secret, guest_id, name.strip() or "Guest", ttl_seconds, call=call,
        max_lifetime_s=max_lifetime_s,
    )  # fmt: skip
    return guest_id, token


def verify_token(
    secret: str, token: str | None, *, max_lifetime_s: int = MAX_TOKEN_LIFETIME_S
) -> tuple[str, str, float]:
    """Check a token; returns (user_id, name, expires_at) or raises ``AuthError`` saying why."""
    claims = verify_claims(secret, token, max_lifetime_s=max_lifetime_s)
    return claims.user_id, claims.name, claims.expires_at


def verify_claims(
    secret: str, token: str | None, *, max_lifetime_s: int = MAX_TOKEN_LIFETIME_S
) -> TokenClaims:
    """Check a token; its claims, or ``AuthError`` saying why.

    A token that would still be valid more than ``max_lifetime_s`` from now is refused, whoever
    signed it, and so is a user id outside the documented character set.
    """
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
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise AuthError("invalid token (its user id is missing or has characters not allowed)")
    if claims.get("typ") == ROLE_CLAIM_TYPE:
        raise AuthError("invalid token (a role claim is not a user token)")
    expires_at = float(claims["exp"])
    if expires_at - time.time() > max_lifetime_s + 60:
        raise AuthError(
            f"token lives too long: this server accepts at most {max_lifetime_s // 3600} h; "
            "make a new one with `mctui token USER`"
        )
    name = claims.get("name")
    if not isinstance(name, str) or len(name) > 256:
        name = user_id
    if has_control_characters(name):
        raise AuthError("invalid token (its display name holds control characters)")
    call = claims.get("call")
    if call is not None and not isinstance(call, str):
        raise AuthError("invalid token (its call scope is not a call id)")
    return TokenClaims(user_id, name, expires_at, call)
