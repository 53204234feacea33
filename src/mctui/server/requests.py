"""One text frame from a client, turned into a typed request or a typed refusal.

Everything a client can send wrong is refused here with ``too_large`` or ``bad_request`` and a
sentence naming what was wrong, before the coordinator sees it: too big, not JSON, nested too
deep, not an object, a ``type`` that is not one of ours (a list or an object included), fields
of the wrong shape.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from mctui import protocol as p
from mctui.errors import BadRequestError, MessageTooLargeError


def decode_frame(raw: str | bytes, limit: int) -> dict[str, Any]:
    """The JSON object in ``raw`` (at most ``limit`` bytes)."""
    if len(raw) > limit:
        raise MessageTooLargeError(f"message of {len(raw)} bytes is over the {limit}-byte limit")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"message is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise BadRequestError("message is nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequestError("message must be a JSON object with a 'type'")
    return data


def request_id_of(data: dict[str, Any]) -> int | None:
    """The request's ``id`` if it has a usable one (a refusal names it), else None."""
    raw_id = data.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool) and raw_id >= 0:
        return raw_id
    return None


def validate_request(data: dict[str, Any]) -> p.Request:
    """``data`` as the request model its ``type`` names."""
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in p.REQUEST_TYPES:
        shown = json.dumps(kind)[:64] if kind is not None else "none"
        raise BadRequestError(f"unknown message type {shown}")
    try:
        return p.REQUEST_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise BadRequestError(_describe_validation(kind, exc)) from exc
    except (RecursionError, TypeError, ValueError) as exc:  # shapes pydantic chokes on
        raise BadRequestError(f"invalid {kind!r} message ({type(exc).__name__})") from exc


def _describe_validation(kind: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(x) for x in error["loc"][1:]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return f"invalid {kind!r} message: " + "; ".join(parts)
