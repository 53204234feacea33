"""A bot: a real participant that connects through the coordinator and SFU like any client.

It publishes a known signal (its "microphone" is a looped tone or speech-like bursts) and keeps what
it hears in memory, so tests can measure what reached it.
"""

from __future__ import annotations

from mctui.audio.backends import MemoryBackend
from mctui.audio.config import AudioConfigurationPolicy
from mctui.bots.signals import Signal, tone
from mctui.engine import Call, CallType, Client, ClientOptions, MultiCallAudioPolicy, User
from mctui.network import IceServer


class Bot:
    """One synthetic participant in one room."""

    def __init__(
        self,
        url: str,
        user: User,
        token: str,
        signal: Signal | None,
        *,
        room: str,
        call_type: CallType = CallType.DEFAULT,
        ice_servers: tuple[IceServer, ...] = (),
        reconnect_timeout_s: float = 60.0,
        ca_file: str | None = None,
    ) -> None:
        self.backend = MemoryBackend(signal, keep_seconds=10.0)
        # Synthetic signals skip the voice chain: its noise suppression would remove a tone.
        self.client = Client(
            url,
            user,
            token,
            ClientOptions(
                multi_call_audio_policy=MultiCallAudioPolicy.MANUAL,
                audio_device=self.backend,
                audio_configuration_policy=AudioConfigurationPolicy.hifi(),
                ice_servers=ice_servers,
                reconnect_timeout_s=reconnect_timeout_s,
                ca_file=ca_file,
            ),
        )
        self.room = room
        self.call_type = call_type
        self.call: Call | None = None

    @classmethod
    def with_tone(
        cls,
        url: str,
        user: User,
        token: str,
        hz: float,
        room: str,
        call_type: CallType = CallType.DEFAULT,
        ice_servers: tuple[IceServer, ...] = (),
    ) -> Bot:
        return cls(
            url, user, token, tone(hz), room=room, call_type=call_type, ice_servers=ice_servers
        )

    async def start(self, *, retry: bool = False) -> Call:
        """Connect and join; with ``retry``, wait for a server that is not up yet (as after a
        restart) for as long as the reconnect timeout. Once joined, the bot reconnects and
        rejoins by itself (the engine's reconnect), like any client."""
        await self.client.connect(retry=retry)
        self.call = self.client.make_call(self.call_type, self.room)
        await self.call.join()
        return self.call

    def heard(self, last_seconds: float = 1.0) -> Signal:
        """What reached this bot's speaker in the last seconds."""
        return self.backend.output(last_seconds)

    async def stop(self) -> None:
        await self.client.disconnect()
