"""What a call needs from its client (``CallHost``), and nothing more: ``Call`` reaches its
``Client`` only through this, so the two stay separable and testable apart."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from mctui.audio.session import AudioSession
from mctui.engine.types import ClientOptions, User
from mctui.engine.volumes import RoomVolumes
from mctui.network import NetworkPolicy
from mctui.protocol import RequestModel, ResultT

#: The call type the host takes back (``Call``): generic, so this module need not import the
#: call that imports it (no import cycle, TYPE_CHECKING included).
C = TypeVar("C", contravariant=True)


class CallHost(Protocol[C]):
    """What a call needs from its client, and nothing more."""

    #: The coordinator's address (``http://host:port``), as this client reaches it.
    url: str

    @property
    def user(self) -> User: ...

    @property
    def options(self) -> ClientOptions: ...

    @property
    def audio(self) -> AudioSession: ...

    @property
    def volumes(self) -> RoomVolumes:
        """Each room's volume, kept across runs."""

    @property
    def network(self) -> NetworkPolicy:
        """What this client's peer connections offer and which ICE servers they ask."""

    def network_for(self, media_host: str) -> NetworkPolicy:
        """The same, toward a media server at ``media_host`` ("": the coordinator's host)."""

    async def request(self, kind: type[RequestModel[ResultT]], **fields: Any) -> ResultT:
        """One request to the coordinator, its reply parsed into the model ``kind`` names."""

    async def set_active_call(self, call: C) -> None: ...

    async def remove_active_call(self, call: C) -> None: ...

    def take_audio(self, call: C) -> None:
        """``call`` takes the audio back (the policy makes room first)."""

    def suspend_by_user(self, call: C) -> None:
        """The user suspended ``call`` by hand."""

    def ring_cleared(self, call: C) -> None:
        """``call`` no longer rings this user."""

    def place_rooms(self) -> None:
        """Place every active room in the stereo mix again (a room's own place changed)."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task the client cancels when it disconnects."""
