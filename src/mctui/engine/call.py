"""One call (room) of a client: joining, leaving, ringing, suspension and the microphone.

A call's audio mode (focused / ducked / suspended) is decided by the client's policy and by the
user; ``_apply_audio`` turns mode + the user's microphone wish into the ADM's holds and switches,
so the actual mic state is always *derived* and can never drift from what the user asked for.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.engine.state import (
    AudioMode,
    CallConnection,
    CallState,
    Participant,
    RingInfo,
)
from mctui.engine.types import CallPreferences, CallType, ConnectOptions, User
from mctui.errors import InvalidStateError, MctuiError
from mctui.rtc.transport import MediaTransport, create_transport

if TYPE_CHECKING:
    from mctui.engine.client import Client

log = logging.getLogger(__name__)

_LIVE = (CallConnection.JOINING, CallConnection.JOINED, CallConnection.RECONNECTING)


class Call:
    """A call of type ``type`` and id ``id`` as seen by one client."""

    def __init__(
        self,
        client: Client,
        call_type: CallType,
        call_id: str,
        preferences: CallPreferences | None = None,
    ) -> None:
        self.client = client
        self.type = CallType(call_type)
        self.id = call_id
        self.cid = p.call_cid(self.type.value, call_id)
        self.preferences = preferences or CallPreferences()
        self.state = CallState()
        self.info: p.CallInfo | None = None
        self._suspended_by_user = False
        self._muted_by_user = False
        self._adm: AudioDeviceModule | None = None
        self._transport: MediaTransport | None = None
        self._remote: dict[str, Participant] = {}
        self._activity: dict[str, p.ParticipantActivity] = {}

    def __repr__(self) -> str:
        return f"<Call {self.cid} {self.state.connection} {self.state.audio_mode}>"

    # --- what policies read -------------------------------------------------------------------

    @property
    def audio_mode(self) -> AudioMode:
        return self.state.audio_mode

    @property
    def suspended_by_user(self) -> bool:
        """True if the user suspended this call by hand: the policy never auto-resumes it."""
        return self._suspended_by_user

    @property
    def muted_by_user(self) -> bool:
        """True if the user muted this call's mic by hand (``set_microphone_enabled(False)``).

        A focus switch opens the microphone of the call taking focus unless this is set. A mic
        disabled at join by ``ConnectOptions`` is not a hand mute.
        """
        return self._muted_by_user

    @property
    def audio_configuration_policy(self) -> AudioConfigurationPolicy:
        """Per-call override, else the client default, else ``broadcaster()``."""
        return (
            self.preferences.audio_configuration_policy
            or self.client.options.audio_configuration_policy
            or AudioConfigurationPolicy.broadcaster()
        )

    @property
    def adm(self) -> AudioDeviceModule | None:
        """This call's audio device module, once its media exists."""
        return self._adm

    @property
    def has_media(self) -> bool:
        return self._adm is not None

    # --- server-side life ---------------------------------------------------------------------

    async def get_or_create(
        self, members: list[str] | None = None, *, create: bool = True
    ) -> p.CallInfo:
        """Create the call on the server (or fetch it), adding ``members``."""
        result = await self.client._request(
            p.GetOrCreateCallRequest,
            call_type=self.type.value,
            call_id=self.id,
            members=list(members or []),
            create=create,
        )
        self.info = p.CallInfo.model_validate(result["call"])
        return self.info

    async def get(self) -> p.CallInfo:
        """Fetch the call; raises ``CallNotFoundError`` if it does not exist."""
        return await self.get_or_create(create=False)

    async def join(
        self, connect_options: ConnectOptions | None = None, *, create: bool = True
    ) -> None:
        """Join the call: the policy decides its audio first, then media connects.

        Joining an already joined call does nothing. A failed join leaves no trace: the call is
        removed from the active calls (and the policy may resume another).
        """
        if self.state.connection in _LIVE:
            return
        options = connect_options or ConnectOptions()
        self.state._set("connection", CallConnection.JOINING)
        self.state._set("ended", False)
        self._muted_by_user = False
        await self.client._set_active_call(self)
        try:
            if self.state.connection is not CallConnection.JOINING:
                raise InvalidStateError(f"{self.cid} was left while joining")
            result = await self.client._request(
                p.JoinCallRequest, call_type=self.type.value, call_id=self.id, create=create
            )
            join = p.JoinResult.model_validate(result)
            self.info = join.call
            config = self.audio_configuration_policy
            self.state._set("role", join.role)
            self.state._set("can_publish", join.can_publish)
            self.state._set(
                "microphone_enabled", options.microphone.resolve(config.capture_on_join)
            )
            self.state._set("camera_enabled", False)
            for user in join.call.participants:
                if user.id != self.client.user.id:
                    self._remote[user.id] = Participant(User(user.id, user.name))
            await self._start_media(join, config)
            if self.state.connection is not CallConnection.JOINING:
                raise InvalidStateError(f"{self.cid} was left while joining")
            self.state._set("connection", CallConnection.JOINED)
            self._publish_participants()
            self._apply_audio()
            if not self.state.microphone_enabled and join.can_publish:
                await self._send_mute(True)
        except BaseException:
            await self._teardown_media()
            if self.state.connection is CallConnection.JOINING:
                self.state._set("connection", CallConnection.FAILED)
            await self.client._remove_active_call(self)
            raise

    async def _start_media(self, join: p.JoinResult, config: AudioConfigurationPolicy) -> None:
        adm = self.client.audio.create_adm(self.cid, config)
        adm.set_hold_observer(self._on_holds_changed)
        self._adm = adm
        transport = create_transport(join.sfu)
        self._transport = transport
        await transport.start(join, adm, self._signal_sfu)
        await self.client.audio.start()

    async def _signal_sfu(self, role: str, sdp: str, sdp_type: str) -> dict[str, Any]:
        return await self.client._request(
            p.SfuSignalRequest, cid=self.cid, role=role, sdp=sdp, sdp_type=sdp_type
        )

    async def _teardown_media(self) -> None:
        transport, self._transport = self._transport, None
        adm, self._adm = self._adm, None
        if transport is not None:
            try:
                await transport.close()
            except Exception:  # pragma: no cover - best effort on teardown
                log.exception("closing the media transport of %s failed", self.cid)
        if adm is not None:
            self.client.audio.remove_adm(adm)
        self._sync_holds()

    async def leave(self) -> None:
        """Leave the call. Safe to call twice; the policy runs last and may resume another call."""
        was_live = self.state.connection in _LIVE
        await self._teardown_media()
        self._reset_local_state()
        if was_live:
            self.state._set("connection", CallConnection.LEFT)
            with contextlib.suppress(MctuiError):
                await self.client._request(p.LeaveCallRequest, cid=self.cid)
        await self.client._remove_active_call(self)

    async def end(self) -> None:
        """End the call for everyone (host or creator only), then leave it locally."""
        await self.client._request(p.EndCallRequest, cid=self.cid)
        await self._on_ended()

    async def _on_ended(self) -> None:
        self.state._set("ended", True)
        self._clear_ring()
        await self._teardown_media()
        self._reset_local_state()
        if self.state.connection in _LIVE:
            self.state._set("connection", CallConnection.LEFT)
        await self.client._remove_active_call(self)

    def _reset_local_state(self) -> None:
        """Forget this session of the call. The audio mode is left as it was (a call that is
        leaving does not "resume"); the next join's policy decision sets it."""
        self._suspended_by_user = False
        self._muted_by_user = False
        self._remote.clear()
        self._activity = {}
        self.state._set("participants", ())
        self.state._set("outgoing_ring", frozenset())

    # --- ringing ------------------------------------------------------------------------------

    async def ring(self, members: list[str]) -> None:
        """Ring ``members``: the call is created if needed and this client joins it to wait."""
        await self.get_or_create(members=members)
        await self.join()
        self.state._set("outgoing_ring", self.state.outgoing_ring | frozenset(members))
        try:
            await self.client._request(p.RingRequest, cid=self.cid, members=members)
        except BaseException:
            self.state._set("outgoing_ring", self.state.outgoing_ring - frozenset(members))
            raise

    async def accept(self) -> None:
        """Accept the ring and join (single-call mode leaves the previous call first)."""
        if self.state.ringing is None:
            raise InvalidStateError(f"{self.cid} is not ringing")
        self._clear_ring()
        await self.client._request(p.AcceptCallRequest, cid=self.cid)
        await self.join()

    async def reject(self, reason: p.RejectReason = "decline") -> None:
        """Decline a ring (``decline``/``busy``) or, as the caller, cancel it (``cancel``)."""
        try:
            if self.state.ringing is not None:
                self._clear_ring()
                await self.client._request(p.RejectCallRequest, cid=self.cid, reason=reason)
            elif self.state.outgoing_ring:
                self.state._set("outgoing_ring", frozenset())
                await self.client._request(p.RejectCallRequest, cid=self.cid, reason="cancel")
            else:
                raise InvalidStateError(f"{self.cid} has no ring to reject")
        finally:
            await self.client._remove_active_call(self)

    def _set_ringing(self, caller: User, timeout_s: float | None = None) -> None:
        expires = time.monotonic() + timeout_s if timeout_s is not None else None
        self.state._set("ringing", RingInfo(caller=caller, expires_at=expires))

    def _clear_ring(self) -> None:
        self.state._set("ringing", None)
        self.client._clear_incoming(self)

    # --- audio: suspension, ducking, microphone -----------------------------------------------

    async def suspend_audio(self) -> None:
        """Release this call's mic and speaker and disable its audio tracks (by hand).

        Idempotent. A no-op before the call's media exists. The policy never auto-resumes a call
        suspended this way.
        """
        if not self.has_media:
            return
        self._suspended_by_user = True
        self._set_mode(AudioMode.SUSPENDED)

    async def resume_audio(self) -> None:
        """Take the audio back: re-claim the holds and re-enable what suspension disabled.

        Under an exclusive policy the other calls are suspended (or ducked) first, so two calls
        never hold the speaker at once.
        """
        if self not in self.client.state.active_calls:
            return
        self.client._resume(self)

    async def set_microphone_enabled(self, enabled: bool) -> None:
        """Record the user's microphone wish; it takes effect whenever this call holds the mic.

        On a suspended call it opens nothing until resume; a mute made while suspended wins. A
        mute made here is a hand mute: focus switches keep it until the user unmutes.
        """
        self._muted_by_user = not enabled
        self.state._set("microphone_enabled", enabled)
        self._apply_audio()
        if self.state.connection is CallConnection.JOINED and self.state.can_publish:
            await self._send_mute(not enabled)

    async def set_camera_enabled(self, enabled: bool) -> None:
        """Recorded for API compatibility; mctui is voice-only and never opens a camera."""
        self.state._set("camera_enabled", enabled)

    async def _open_microphone_for_focus(self) -> None:
        """The last step of a focus switch: the mic goes live in the room that took focus, as
        the cookbook's ``switchFocus`` does, unless the user muted it by hand or the call's audio
        configuration only listens (``viewer()`` captures only once the user unmutes)."""
        if (
            self._muted_by_user
            or self.state.microphone_enabled
            or not self.state.can_publish
            or not self.audio_configuration_policy.capture_on_join
            or self.state.audio_mode is not AudioMode.FOCUSED
        ):
            return
        self.state._set("microphone_enabled", True)
        self._apply_audio()
        if self.state.connection is CallConnection.JOINED:
            await self._send_mute(False)

    async def _send_mute(self, muted: bool) -> None:
        with contextlib.suppress(MctuiError):
            await self.client._request(p.UpdateMuteRequest, cid=self.cid, audio_muted=muted)

    def _set_mode(self, mode: AudioMode) -> None:
        if mode is not AudioMode.SUSPENDED:
            self._suspended_by_user = False
        self._set_mode_state(mode)
        self._apply_audio()
        if mode is AudioMode.FOCUSED:
            self.client._note_focus(self)
        self.client._refresh_focus()

    def _set_mode_state(self, mode: AudioMode) -> None:
        self.state._set("audio_mode", mode)
        self.state._set("is_audio_suspended", mode is AudioMode.SUSPENDED)
        self.state._set("is_audio_ducked", mode is AudioMode.DUCKED)

    def _close_microphone(self) -> None:
        """Stop capture now (the first step of a focus switch); the user's wish is kept."""
        if self._adm is not None:
            self._adm.set_capture_enabled(False)
            self._adm.release_microphone()
        self._sync_holds()

    def _apply_audio(self) -> None:
        """Make the ADM match mode + wish. Releases always happen before claims."""
        adm = self._adm
        if adm is None:
            self._sync_holds()
            return
        mode = self.state.audio_mode
        if mode is AudioMode.SUSPENDED:
            adm.set_capture_enabled(False)
            adm.release_microphone()
            adm.release_speaker()
            for remote_id in adm.remotes:
                adm.set_remote_enabled(remote_id, False)
        elif mode is AudioMode.DUCKED:
            adm.set_capture_enabled(False)
            adm.release_microphone()
            for remote_id in adm.remotes:
                adm.set_remote_enabled(remote_id, True)
            adm.hold_speaker(self.client.options.duck_gain_db)
        else:
            if self.state.can_publish:
                adm.hold_microphone()
            else:
                adm.release_microphone()
            for remote_id in adm.remotes:
                adm.set_remote_enabled(remote_id, True)
            adm.hold_speaker(0.0)
            adm.set_capture_enabled(self.state.microphone_enabled and self.state.can_publish)
        self._sync_holds()

    def _on_holds_changed(self, adm: AudioDeviceModule) -> None:
        self._sync_holds()

    def _sync_holds(self) -> None:
        adm = self._adm
        self.state._set("holds_microphone", adm is not None and adm.holds_microphone)
        self.state._set("holds_speaker", adm is not None and adm.holds_speaker)
        self.state._set("is_capturing", adm is not None and adm.is_capturing)
        self._publish_participants()

    # --- participants -------------------------------------------------------------------------

    def _publish_participants(self) -> None:
        if self.state.connection not in _LIVE:
            return
        adm = self._adm
        me = self.client.user
        local = Participant(
            user=me,
            role=self.state.role or "member",
            is_local=True,
            audio_level=adm.mic_level_dbfs if adm is not None else -100.0,
            audio_peak=adm.mic_peak_dbfs if adm is not None else -100.0,
            audio_muted=not self.state.microphone_enabled,
            published_tracks=frozenset({"audio"}) if self.state.is_capturing else frozenset(),
        )
        remotes = []
        playing = adm is not None and adm.holds_speaker
        for participant_id, participant in self._remote.items():
            remote = adm.remotes.get(participant_id) if adm is not None else None
            activity = self._activity.get(participant_id)
            if remote is not None and playing and remote.enabled:
                # we hear them: the exact meter of what is played
                participant = Participant(
                    user=participant.user,
                    role=participant.role,
                    is_speaking=remote.speaking,
                    audio_level=remote.level_dbfs,
                    audio_peak=remote.peak_dbfs,
                    audio_muted=participant.audio_muted,
                    published_tracks=frozenset({"audio"}),
                    heard=True,
                )
            elif activity is not None:
                # suspended (or not yet playing): who talks, as the SFU sees it
                participant = Participant(
                    user=participant.user,
                    role=participant.role,
                    is_speaking=activity.speaking,
                    audio_level=activity.level_dbfs,
                    audio_peak=activity.level_dbfs,
                    audio_muted=participant.audio_muted,
                    published_tracks=frozenset({"audio"}),
                )
            remotes.append(participant)
        self.state._set("participants", (local, *remotes))

    def _on_participant_joined(self, event: p.ParticipantJoinedEvent) -> None:
        if event.user.id == self.client.user.id:
            return
        self._remote[event.user.id] = Participant(
            User(event.user.id, event.user.name), role=event.role
        )
        self._publish_participants()

    def _on_participant_left(self, event: p.ParticipantLeftEvent) -> None:
        self._remote.pop(event.user.id, None)
        if self._adm is not None:
            self._adm.remove_remote(event.user.id)
        self._publish_participants()

    def _on_participant_muted(self, event: p.ParticipantMutedEvent) -> None:
        old = self._remote.get(event.user.id)
        if old is not None:
            self._remote[event.user.id] = Participant(
                user=old.user, role=old.role, audio_muted=event.audio_muted
            )
            self._publish_participants()

    def _on_sfu_levels(self, event: p.CallLevelsEvent) -> None:
        """Speaking activity from the SFU: right for suspended calls too."""
        self._activity = dict(event.levels)
        self._publish_participants()

    def _on_sfu_tracks(self, event: p.SfuTracksEvent) -> None:
        if self._transport is not None:
            self._transport.handle_event(event)
