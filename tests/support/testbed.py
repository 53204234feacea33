"""What the tests share besides fixtures: the test secret, the Janus lab's ports, the Janus
variant of a test, and a connected client. Tests import it from here (``support/`` is on
``sys.path``), never from a ``conftest.py``: each tier has its own, and they share the name."""

from __future__ import annotations

import pytest

from mctui import Client, ClientOptions, User
from mctui.server.tokens import issue_token

SECRET = "test-secret-not-for-production-0123456789"
JANUS_PORTS = (8188, 8189)
JANUS_ADMIN_KEY = "janus-test-admin-key"

#: The Janus variant of a test: it needs the lab (a network namespace with Janus in it).
JANUS = pytest.param("janus", marks=[pytest.mark.janus, pytest.mark.netns], id="janus")


async def connected_client(
    url: str, user_id: str, opts: ClientOptions, overrides: dict[str, object], into: list[Client]
) -> Client:
    """A client for ``user_id`` with ``opts`` (plus ``overrides``), connected and remembered."""
    for key, value in overrides.items():
        setattr(opts, key, value)
    client = Client(
        url,
        user=User(id=user_id, name=user_id.title()),
        token=issue_token(SECRET, user_id),
        options=opts,
    )
    await client.connect()
    into.append(client)
    return client


async def connected(url: str, user_id: str, token: str | None = None) -> Client:
    """A client of ``url`` as ``user_id`` (with ``token``, else one signed with ``SECRET``) and
    no audio device, connected; the caller disconnects it."""
    client = Client(
        url,
        User(user_id),
        token or issue_token(SECRET, user_id),
        ClientOptions(audio_device="null"),
    )
    await client.connect()
    return client


async def real_offer() -> str:
    """The SDP offer of a real aiortc peer connection with one audio section (closed at once):
    what the SFU's checks and the fuzzer's mutants start from."""
    from mctui.rtc.peer import close_peer_connection, new_peer_connection

    pc = new_peer_connection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.local_sdp()
    await close_peer_connection(pc)
    return sdp
