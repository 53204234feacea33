"""Typed errors of mctui, each with a message a person understands.

The server answers a bad request with an error *code* (see ``mctui.protocol.ErrorCode``); the client
turns that code back into one of these classes with :func:`error_from_code`, so callers can catch
``CallNotFoundError`` rather than parse strings.
"""

from __future__ import annotations


class MctuiError(Exception):
    """Base class of every error mctui raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(MctuiError):
    """The request was malformed: not JSON, an unknown type, or fields of the wrong type."""

    code = "bad_request"


class VersionMismatchError(BadRequestError):
    """Client and server speak incompatible protocol versions."""

    code = "version_mismatch"


class MessageTooLargeError(BadRequestError):
    """A frame was larger than the server accepts."""

    code = "too_large"


class AuthError(MctuiError):
    """The token is missing, invalid, signed with another secret or expired."""

    code = "unauthorized"


class PermissionDeniedError(MctuiError):
    """The user may not do this to this call (for example end a call they do not own)."""

    code = "forbidden"


class NotAMemberError(PermissionDeniedError):
    """The user is not a member of the call, or was not rung."""

    code = "not_a_member"


class CallNotFoundError(MctuiError):
    """No call with that type and id exists on the server."""

    code = "call_not_found"


class InvalidStateError(MctuiError):
    """The operation does not fit the current state (joining twice, accepting with no ring...)."""

    code = "invalid_state"


class CallEndedError(InvalidStateError):
    """The call was ended by its host: it cannot be joined or rung any more."""

    code = "call_ended"


class ServerUnreachableError(MctuiError):
    """The coordinator could not be reached at the given URL."""

    code = "unreachable"


class NotConnectedError(InvalidStateError):
    """The client is not connected: call ``await client.connect()`` first."""

    code = "not_connected"


class ConnectionLostError(ServerUnreachableError):
    """The connection to the server dropped and reconnecting failed for the allowed time (or
    the server no longer accepts this client's token)."""

    code = "connection_lost"


class RequestTimeoutError(MctuiError):
    """The server did not answer in time."""

    code = "timeout"


class NoAudioDeviceError(MctuiError):
    """No usable audio device (or no PortAudio); mctui falls back to the null device."""

    code = "no_audio_device"


class MediaError(MctuiError):
    """The media connection (WebRTC / SFU) could not be set up or failed."""

    code = "media_error"


class RateLimitedError(MctuiError):
    """The connection sent more messages per second than the server accepts."""

    code = "rate_limited"


class LimitReachedError(MctuiError):
    """A server limit was reached: connections, calls per user, participants per call."""

    code = "limit_reached"


class ServerError(MctuiError):
    """The server failed while handling a valid request."""

    code = "internal"


_BY_CODE: dict[str, type[MctuiError]] = {
    cls.code: cls
    for cls in (
        BadRequestError,
        VersionMismatchError,
        MessageTooLargeError,
        AuthError,
        PermissionDeniedError,
        NotAMemberError,
        CallNotFoundError,
        InvalidStateError,
        CallEndedError,
        ServerUnreachableError,
        NotConnectedError,
        RequestTimeoutError,
        NoAudioDeviceError,
        MediaError,
        RateLimitedError,
        LimitReachedError,
        ServerError,
    )
}


def error_from_code(code: str, message: str) -> MctuiError:
    """Build the typed error for a server error code (unknown codes become ``MctuiError``)."""
    cls = _BY_CODE.get(code, MctuiError)
    return cls(message)
