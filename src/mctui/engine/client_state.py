"""``client.state``: what the client owns (the calls, the ring, the focus, the connection).

Apart from ``state.py`` because it holds ``Call`` objects, and ``Call`` is built on the fields
there: one direction of import, no cycle."""

from __future__ import annotations

from mctui.engine.call import Call
from mctui.engine.state import ClientConnection, Field, ListField, ObservableState


class ClientState(ObservableState):
    """``client.state``: the calls, the ring, the focus and the connection."""

    active_calls: ListField[Call] = ListField(
        [], "Joined (or joining) calls, in the order they were added (async-iterable too)."
    )
    incoming_call: Field[Call | None] = Field(None, "The call ringing this user now, if any.")
    focused_call: Field[Call | None] = Field(
        None, "The call that most recently took the audio and still holds it fully."
    )
    connection: Field[ClientConnection] = Field(ClientConnection.DISCONNECTED)
    connection_reason: Field[str | None] = Field(
        None, "Why the connection is reconnecting or was lost (None while all is well)."
    )
    reconnect_attempt: Field[int] = Field(
        0, "The (re)connect attempt under way (1, 2, ...); 0 when connected."
    )
    last_outage_s: Field[float | None] = Field(
        None, "How long the last outage lasted, from losing the connection to every call back."
    )
    audio_notice: Field[str | None] = Field(
        None, "A one-line note about the audio device (e.g. why the null device is in use)."
    )
    audio_error: Field[str | None] = Field(
        None, "The last thing the audio path lost that the user asked for (a recording)."
    )
