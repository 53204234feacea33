"""One call (room) of a client: joining, leaving, ringing, suspension and the microphone.

A call's audio mode (focused / ducked / suspended) is decided by the client's focus manager (the
policy, or the user through it); ``_apply_audio`` turns mode + the user's microphone wish into the
ADM's holds and switches, so the actual mic state is always *derived* and can never drift from
what the user asked for. The call reaches its client only through the small ``CallHost``
protocol, and server events reach it through one public method, ``handle_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import assert_never

from platformdirs import user_data_path

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.config import AudioConfigurationPolicy
from mctui.audio.pan import clamp_pan
from mctui.audio.replay import ReplayPlayer
from mctui.client_media.history import KEEP_S, render
from mctui.client_media.recording import RoomRecorder, recording_path
from mctui.client_media.transport import SendReport
from mctui.engine.activity import ActivityLog
from mctui.engine.audio_levers import pull_audio_levers
from mctui.engine.host import CallHost
from mctui.engine.media import CallMedia
from mctui.engine.receive_watch import ReceiveWatch
from mctui.engine.roster import Roster, local_participant
from mctui.engine.state import AudioMode, CallConnection, CallState, RingInfo, StateWriter
from mctui.engine.types import CallPreferences, CallType, ConnectOptions, Invite, User
from mctui.errors import (
    CallEndedError,
    InvalidStateError,
    MctuiError,
    NotConnectedError,
    PermissionDeniedError,
)
from mctui.names import invite_link

log = logging.getLogger(__name__)

_LIVE = (CallConnection.JOINING, CallConnection.JOINED, CallConnection.RECONNECTING)
#: After a server restart, how long the others have to rejoin before they count as gone: the
#: grace period a running server keeps a lost participant's place for.
REJOIN_GRACE_S = 15.0


class Call:
    """A call of type ``type`` and id ``id`` as seen by one client."""

    def __init__(
        self,
        client: CallHost[Call],
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
        self._w = StateWriter(self.state)
        self._w.set(CallState.volume_db, client.volumes.get(self.cid))
        pans = client.options.room_pans
        fixed = pans.get(self.cid, pans.get(call_id))
        #: The user's place for this room (``set_pan``, ``[rooms.NAME] pan``); None: automatic.
        self._fixed_pan: float | None = clamp_pan(fixed) if fixed is not None else None
        if self._fixed_pan is not None:
            self._w.set(CallState.pan, self._fixed_pan)
        self.info: p.CallInfo | None = None
        self._suspended_by_user = False
        self._muted_by_user = False
        self._media = CallMedia(client, self.cid, self._on_media_failure, self._on_holds_changed)
        self._roster = Roster()
        self._activity = ActivityLog()
        self._replay: ReplayPlayer | None = None
        self._recorder: RoomRecorder | None = None
        self._receive_watch = ReceiveWatch()
        self._join: p.JoinResult | None = None
        self._recovery = asyncio.Lock()
        self._deciding = 0  # inside ``deciding()``: hold syncs wait for its end
        self._holds_dirty = False

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
        """True if the user muted this call's mic by hand (``set_microphone_enabled(False)``):
        a focus switch keeps it closed. A mic disabled at join by ``ConnectOptions`` is not."""
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
    def departure_reasons(self) -> dict[str, str]:
        """Why each participant who left this call did (``left``, ``timeout``, ``ended`` ...)."""
        return self._roster.departures

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
        result = await self.client.request(
            p.GetOrCreateCallRequest,
            call_type=self.type,
            call_id=self.id,
            members=list(members or []),
            create=create,
        )
        self.info = result.call
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
        self._w.set(CallState.connection, CallConnection.JOINING)
        self._w.set(CallState.ended, False)
        self._w.set(CallState.left_reason, None)
        self._muted_by_user = False
        await self.client.set_active_call(self)
        try:
            if self.state.connection is not CallConnection.JOINING:
                raise InvalidStateError(f"{self.cid} was left while joining")
            join = await self.client.request(
                p.JoinCallRequest,
                call_type=self.type,
                call_id=self.id,
                create=create,
            )
            self._note_join(join)
            config = self.audio_configuration_policy
            self._w.set(
                CallState.microphone_enabled, options.microphone.resolve(config.capture_on_join)
            )
            self._w.set(CallState.camera_enabled, False)
            for user in join.call.participants:
                if user.id != self.client.user.id:
                    self._roster.joined(user)
            await self._media.start(join, config)
            if self.state.connection is not CallConnection.JOINING:
                raise InvalidStateError(f"{self.cid} was left while joining")
            self._w.set(CallState.connection, CallConnection.JOINED)
            self.refresh_participants()
            self._apply_audio()
            if not self.state.microphone_enabled and join.can_publish:
                await self._send_mute(True)
        except BaseException:
            await self._teardown_media()
            if self.state.connection is CallConnection.JOINING:
                self._w.set(CallState.connection, CallConnection.FAILED)
            await self.client.remove_active_call(self)
            raise

    def _note_join(self, join: p.JoinResult) -> None:
        """What the server said of this (re)join: the call, our role, whether we may publish."""
        self.info = join.call
        self._join = join
        self._w.set(CallState.role, join.role)
        self._w.set(CallState.can_publish, join.can_publish)

    @property
    def _adm(self) -> AudioDeviceModule | None:
        return self._media.adm

    async def _teardown_media(self) -> None:
        await self._media.close()
        self._sync_holds()

    async def leave(self) -> None:
        """Leave the call. Safe to call twice; the policy runs last and may resume another call."""
        was_live = self.state.connection in _LIVE
        if was_live:  # LEFT first: emptying the participant list is not everyone leaving
            self._w.set(CallState.left_reason, "left")
            self._w.set(CallState.connection, CallConnection.LEFT)
        await self._teardown_media()
        self._reset_local_state()
        if was_live:
            with contextlib.suppress(MctuiError):
                await self.client.request(p.LeaveCallRequest, cid=self.cid)
        await self.client.remove_active_call(self)

    async def end(self) -> None:
        """End the call for everyone (host or creator only), then leave it locally."""
        await self.client.request(p.EndCallRequest, cid=self.cid)
        await self._on_ended()

    async def _on_ended(self) -> None:
        self._clear_ring()
        await self.lose("ended")

    # --- surviving a lost connection (the client and the transport drive these) ----------------

    def connection_lost(self) -> None:
        """The signalling dropped: the call waits for the client to reconnect. Its audio mode,
        mute wish, holds and media stay as they are (audio may still flow through the SFU)."""
        if self.state.connection in (CallConnection.JOINED, CallConnection.JOINING):
            self._w.set(CallState.connection, CallConnection.RECONNECTING)

    async def rejoin(self, resumed: bool) -> None:
        """The client reconnected: join again (only a resync if the server kept our place),
        bring the participants up to date, and rebuild the media unless it survived. The audio
        mode, the mute wish, hand suspension and focus are the call's own and do not change."""
        async with self._recovery:
            if self.state.connection is not CallConnection.RECONNECTING:
                return
            try:
                join = await self.client.request(
                    p.JoinCallRequest,
                    call_type=self.type, call_id=self.id, create=True,
                    rejoin_role=self.state.role or "member",
                    role_claim=self._join.role_claim if self._join is not None else None,
                )  # fmt: skip
            except NotConnectedError:
                return  # lost again: the client's next round rejoins
            except MctuiError as exc:
                ended = isinstance(exc, CallEndedError)
                await self.lose("ended" if ended else f"could not rejoin: {exc.message}")
                return
            self._note_join(join)
            me = self.client.user.id
            absent = self._roster.sync(join.call.participants, me, keep_absent=not resumed)
            if resumed:
                self._forget_remotes(absent)
            else:  # a restarted server: the others come back one by one, not leave and join
                self.client.spawn(self._await_rejoins(absent))
            self.refresh_participants()
            if not (resumed and self._media.healthy):
                await self._media_until_up(join)
            self._back_up()

    async def _await_rejoins(self, absent: list[str]) -> None:
        """After a server restart, those not back within the server's usual grace period have
        left (``timeout``), as they would have had the server kept running."""
        await asyncio.sleep(REJOIN_GRACE_S)
        self._forget_remotes(self._roster.forget_if_away(absent, "timeout"))
        self.refresh_participants()

    def _forget_remotes(self, user_ids: list[str]) -> None:
        if self._adm is not None:
            for user_id in user_ids:
                self._adm.remove_remote(user_id)

    def _back_up(self) -> None:
        if self.state.connection is not CallConnection.RECONNECTING:
            return
        self._w.set(CallState.connection, CallConnection.JOINED)
        self._apply_audio()
        if self.state.can_publish:
            self.client.spawn(self._send_mute(not self.state.microphone_enabled))

    def _on_media_failure(self, reason: str) -> None:
        """The media path failed with the signalling up (ICE consent lost): rebuild it."""
        if self.state.connection is CallConnection.JOINED and self._join is not None:
            log.warning("%s: %s; restarting the media", self.cid, reason)
            self._w.set(CallState.connection, CallConnection.RECONNECTING)
            self.client.spawn(self._recover_media(self._join))

    async def _recover_media(self, join: p.JoinResult) -> None:
        async with self._recovery:
            if self.state.connection is CallConnection.RECONNECTING:
                await self._media_until_up(join)
                self._back_up()

    async def _media_until_up(self, join: p.JoinResult) -> None:
        """Rebuild the media until it connects (the call stays RECONNECTING meanwhile); give
        the call up after the client's reconnect limit. Returns early if the signalling drops:
        the client's rejoin comes back here."""
        deadline = time.monotonic() + self.client.options.reconnect_timeout_s
        try:
            await self._media.restart(
                join, deadline, lambda: self.state.connection is CallConnection.RECONNECTING
            )
        except MctuiError as exc:
            await self.lose(exc.message)

    async def lose(self, reason: str) -> None:
        """The call is over for this client without it leaving: it ``ended``, or the connection
        could not be restored. ``LEFT`` with ``reason``; the policy may resume another call."""
        self._w.set(CallState.ended, reason == "ended")
        if self.state.connection in _LIVE:
            self._w.set(CallState.left_reason, reason)
            self._w.set(CallState.connection, CallConnection.LEFT)
        await self._teardown_media()
        self._reset_local_state()
        await self.client.remove_active_call(self)

    def _reset_local_state(self) -> None:
        """Forget this session of the call. The audio mode is left as it was (a call that is
        leaving does not "resume"); the next join's policy decision sets it."""
        self._suspended_by_user = False
        self._muted_by_user = False
        self._w.set(CallState.transmit, False)
        self._stop_own_replay()
        recorder = self._detach_recorder()
        if recorder is not None:  # the writer finishes the file by itself
            recorder.finish()
        self._roster.clear()
        self._w.set(CallState.participants, [])
        self._w.set(CallState.outgoing_ring, frozenset())

    # --- guests -------------------------------------------------------------------------------

    async def invite(self, ttl_s: int = p.INVITE_TTL_S, name: str = "") -> Invite:
        """A link for someone without mctui: it opens the server's web page, which joins this
        call as a guest (a viewer in a livestream). Only members may invite; the server signs
        the guest's token, so this works without the server's secret."""
        result = await self.client.request(
            p.CreateInviteRequest, cid=self.cid, ttl_s=ttl_s, name=name
        )
        link = invite_link(result.base_url or self.client.url, self.cid, result.token)
        return Invite(link=link, guest_id=result.guest_id, expires_at=result.expires_at)

    # --- ringing ------------------------------------------------------------------------------

    async def ring(self, members: list[str]) -> None:
        """Ring ``members``: the call is created if needed and this client joins it to wait."""
        await self.get_or_create(members=members)
        await self.join()
        fresh = {k: v for k, v in self.state.ring_responses.items() if k not in members}
        self._w.set(CallState.ring_responses, MappingProxyType(fresh))  # a new ring, new answers
        self._w.set(CallState.outgoing_ring, self.state.outgoing_ring | frozenset(members))
        try:
            await self.client.request(p.RingRequest, cid=self.cid, members=members)
        except BaseException:
            self._w.set(CallState.outgoing_ring, self.state.outgoing_ring - frozenset(members))
            raise

    async def accept(self) -> None:
        """Accept the ring and join (single-call mode leaves the previous call first)."""
        if self.state.ringing is None:
            raise InvalidStateError(f"{self.cid} is not ringing")
        self._clear_ring()
        await self.client.request(p.AcceptCallRequest, cid=self.cid)
        await self.join()

    async def reject(self, reason: p.RejectReason = "decline") -> None:
        """Decline a ring (``decline``/``busy``) or, as the caller, cancel it (``cancel``)."""
        try:
            if self.state.ringing is not None:
                self._clear_ring()
            elif self.state.outgoing_ring:
                self._w.set(CallState.outgoing_ring, frozenset())
                reason = "cancel"
            else:
                raise InvalidStateError(f"{self.cid} has no ring to reject")
            await self.client.request(p.RejectCallRequest, cid=self.cid,
                                      reason=reason)  # fmt: skip
        finally:
            await self.client.remove_active_call(self)

    def _clear_ring(self) -> None:
        self._w.set(CallState.ringing, None)
        self.client.ring_cleared(self)

    def _note_ring_response(self, user_id: str, response: str) -> None:
        responses = {**self.state.ring_responses, user_id: response}
        self._w.set(CallState.ring_responses, MappingProxyType(responses))

    # --- audio: suspension, ducking, microphone -----------------------------------------------

    async def suspend_audio(self) -> None:
        """Release this call's mic and speaker and disable its audio tracks (by hand; the policy
        never auto-resumes it). Idempotent; a no-op before the call's media exists."""
        if not self.has_media:
            return
        self.client.suspend_by_user(self)

    async def resume_audio(self) -> None:
        """Take the audio back (holds and tracks). Under an exclusive policy the other calls
        are suspended (or ducked) first, so two calls never hold the speaker at once."""
        self.client.take_audio(self)

    async def set_microphone_enabled(self, enabled: bool) -> None:
        """Record the user's microphone wish; it takes effect whenever this call holds the mic.

        On a suspended call it opens nothing until resume; a mute made while suspended wins. A
        mute made here is a hand mute: focus switches keep it until the user unmutes.
        """
        self._muted_by_user = not enabled
        self._w.set(CallState.microphone_enabled, enabled)
        if not enabled:
            self._w.set(CallState.transmit, False)  # a hand mute wins over a patch
        self._apply_audio()
        if self.state.connection is CallConnection.JOINED and self.state.can_publish:
            await self._send_mute(not enabled)

    async def set_volume_db(self, volume_db: float) -> float:
        """This room's volume in the mix, before ducking (3 dB steps, silence to +12 dB; kept
        for the room across runs). Returns the step kept."""
        self._w.set(CallState.volume_db, self.client.volumes.set(self.cid, volume_db))
        self._apply_audio()
        return self.state.volume_db

    async def set_transmit(self, on: bool) -> None:
        """Send the microphone into this room too, at once, without moving the focus (the
        speaker stays where it is): a console's "patch". Never into a room where this user may
        not publish (a viewer), never into one muted by hand (unmute it first); a hand mute
        here, or leaving, clears it."""
        if on:
            if self.state.connection not in _LIVE:
                raise InvalidStateError(f"join {self.id} before transmitting into it")
            if not self.state.can_publish:
                raise PermissionDeniedError(f"you only listen in {self.id}: no transmit there")
            if self._muted_by_user:
                raise InvalidStateError(f"{self.id} is muted: unmute it to transmit into it")
        if on == self.state.transmit:
            return
        self._w.set(CallState.transmit, on)
        if on and not self.state.microphone_enabled:
            self._w.set(CallState.microphone_enabled, True)
            if self.state.connection is CallConnection.JOINED:
                self.client.spawn(self._send_mute(False))
        self._apply_audio()

    async def replay(self, seconds: float = 15.0) -> None:
        """Play this room's last ``seconds`` (at most a minute) through the speaker, as it was
        received, while the live rooms duck by 18 dB; suspended rooms too (what you missed).
        Another replay stops first. Returns once it starts; ``state.replaying`` follows it."""
        if self.state.connection not in _LIVE:
            raise InvalidStateError(f"join {self.id} before replaying it")
        if not 0 < seconds <= KEEP_S:
            raise ValueError(f"a replay is 1 to {KEEP_S:g} seconds, not {seconds:g}")
        start, packets = self._media.history.window(seconds)
        audio = await asyncio.to_thread(render, start, packets, seconds, 2)
        player = ReplayPlayer(audio, on_end=self._replay_ended)
        self.client.audio.play_replay(player)
        self._replay = player
        self._w.set(CallState.replaying, 0.0)
        self.mark_heard()

    @property
    def history_held(self) -> tuple[int, float]:
        """What the replay history holds for this room: bytes, and how many seconds back."""
        history = self._media.history
        return history.bytes_held, history.seconds_held

    async def stop_replay(self) -> None:
        """Stop this room's replay (if it plays); the live rooms come back up."""
        self._stop_own_replay()

    def _stop_own_replay(self) -> None:
        if self._replay is not None and self.client.audio.replay is self._replay:
            self.client.audio.stop_replay()  # ends the player: ``_replay_ended``
        self._replay_ended()

    def _replay_ended(self) -> None:
        self._replay = None
        self._w.set(CallState.replaying, None)

    def refresh_replay(self) -> None:
        """Publish the replay's progress (the client's audio tick, a few times a second)."""
        player = self._replay
        if player is not None and not player.ended:
            self._w.set(CallState.replaying, round(player.progress, 2))

    async def start_recording(self, path: str | Path | None = None) -> Path:
        """Record this room to an Ogg/Opus file: what you hear from it (left channel, before
        your volume and ducking) and your mic into it (right). ``path`` None: a file named for
        the room and the time in the record directory. A full disk stops the recording with an
        error (``client.state.audio_error``); the call goes on. Returns the file."""
        if self.state.connection not in _LIVE or self._adm is None:
            raise InvalidStateError(f"join {self.id} before recording it")
        if self._recorder is not None:
            return self._recorder.path
        if path is None:
            directory = self.client.options.record_dir
            folder = Path(directory) if directory else user_data_path("mctui") / "recordings"
            path = recording_path(folder, self.cid)
        try:
            recorder = RoomRecorder(Path(path), self._recording_failed)
        except OSError as exc:
            raise InvalidStateError(f"cannot record to {path}: {exc.strerror or exc}") from exc
        self._recorder = recorder
        self._adm.tap = recorder.add
        self._w.set(CallState.recording, str(recorder.path))
        return recorder.path

    async def stop_recording(self) -> None:
        """Finish the file (it stays playable whatever happens after)."""
        recorder = self._detach_recorder()
        if recorder is not None:
            await recorder.stop()

    def _detach_recorder(self) -> RoomRecorder | None:
        """Take the recorder off the ADM and the state; the caller finishes its file."""
        recorder, self._recorder = self._recorder, None
        if self._adm is not None:
            self._adm.tap = None
        self._w.set(CallState.recording, None)
        return recorder

    def _recording_failed(self, message: str) -> None:
        self.client.audio.report_error(message)
        self.client.spawn(self.stop_recording())

    async def set_pan(self, pan: float | None) -> float:
        """Place this room in the stereo mix (-1 left .. +1 right) for as long as it is joined;
        None gives it back to the automatic placement (the focused room in the centre, the
        others spread in pane order). No effect on a mono output device. Returns the place."""
        self._fixed_pan = clamp_pan(pan) if pan is not None else None
        self.client.place_rooms()
        return self.state.pan

    def place(self, automatic: float) -> None:
        """The focus manager's placement of this room; the user's own place wins."""
        pan = self._fixed_pan if self._fixed_pan is not None else automatic
        if pan != self.state.pan:
            self._w.set(CallState.pan, pan)
            if self._adm is not None:
                self._adm.pan = pan

    async def set_camera_enabled(self, enabled: bool) -> None:
        """Recorded for API compatibility; mctui is voice-only and never opens a camera."""
        self._w.set(CallState.camera_enabled, enabled)

    async def _send_mute(self, muted: bool) -> None:
        with contextlib.suppress(MctuiError):
            await self.client.request(p.UpdateMuteRequest, cid=self.cid, audio_muted=muted)

    # --- levers for the focus manager (not for applications: use the methods above) ------------

    def apply_audio_mode(self, mode: AudioMode, *, by_user: bool = False) -> None:
        """Set the audio mode the focus manager decided and make the ADM follow."""
        self._suspended_by_user = mode is AudioMode.SUSPENDED and (
            by_user or self._suspended_by_user
        )
        self._w.set(CallState.audio_mode, mode)
        if mode is AudioMode.FOCUSED:
            self.mark_heard()
        self._apply_audio()

    @contextlib.contextmanager
    def deciding(self) -> Iterator[None]:
        """A decision's levers: this call's holds sync once, at the end: one change to a UI."""
        self._deciding += 1
        with self._w.batch():
            try:
                yield
            finally:
                self._deciding -= 1
                if not self._deciding and self._holds_dirty:
                    self._sync_holds()

    def close_microphone(self) -> None:
        """Stop capture now (the first step of a focus switch); the user's wish is kept."""
        with self.deciding():
            if self._adm is not None:
                self._adm.set_capture_enabled(False)
                self._adm.release_microphone()
            self._sync_holds()

    def open_microphone_for_focus(self) -> bool:
        """The last lever of a focus switch: the mic goes live in the room that took focus, as
        the cookbook's ``switchFocus`` does, unless the user muted it by hand or the call's audio
        configuration only listens (``viewer()`` captures only once the user unmutes). True: the
        server must hear of it (``send_unmute``, after the decision)."""
        if (
            self._muted_by_user
            or self.state.microphone_enabled
            or not self.state.can_publish
            or not self.audio_configuration_policy.capture_on_join
            or self.state.audio_mode is not AudioMode.FOCUSED
        ):
            return False
        self._w.set(CallState.microphone_enabled, True)
        self._apply_audio()
        return self.state.connection is CallConnection.JOINED

    async def send_unmute(self) -> None:
        await self._send_mute(False)

    def _apply_audio(self) -> None:
        """Make the ADM match mode + wish (``audio_levers``); the holds sync once after."""
        with self.deciding():
            if self._adm is not None:
                state = self.state
                self._adm.volume_db = state.volume_db
                self._adm.pan = state.pan
                capture = state.microphone_enabled and state.can_publish
                pull_audio_levers(self._adm, state.audio_mode, state.can_publish, capture,
                                  self.client.options.duck_gain_db,
                                  transmit=state.transmit and capture)  # fmt: skip
            self._sync_holds()

    def _on_holds_changed(self, adm: AudioDeviceModule) -> None:
        self._sync_holds()

    def _sync_holds(self) -> None:
        self._holds_dirty = True
        if self._deciding:
            return
        self._holds_dirty = False
        adm = self._adm
        self._w.set(CallState.holds_microphone, adm is not None and adm.holds_microphone)
        self._w.set(CallState.holds_speaker, adm is not None and adm.holds_speaker)
        self._w.set(CallState.is_capturing, adm is not None and adm.is_capturing)
        self.refresh_participants()

    # --- participants -------------------------------------------------------------------------

    def refresh_stats(self) -> None:
        """Publish the playout's receive counters (the client does it once a second), and
        rebuild the media if someone talks, per the SFU, and nothing of theirs arrives."""
        stats = self._media.receive_stats()
        if self.state.connection in _LIVE and stats != dict(self.state.receive_stats):
            self._w.set(CallState.receive_stats, MappingProxyType(stats))
        if self.state.connection is not CallConnection.JOINED:
            self._receive_watch.reset()
            return
        received = {pid: s.received for pid, s in stats.items()}
        starved = self._receive_watch.check(self._roster.talking(), received)
        if starved:
            self._receive_watch.reset()
            names = ", ".join(starved)
            self._on_media_failure(f"nothing arrives from {names}, though the SFU hears them")

    def refresh_activity(self) -> None:
        """A second passed: roll the room's activity strip (the client's audio tick)."""
        if self.state.connection not in _LIVE:
            return
        activity = self._activity.roll()
        if activity != self.state.activity:
            self._w.set(CallState.activity, activity)

    def mark_heard(self) -> None:
        """The user heard this room again (focused it or replayed it): nothing is unheard."""
        if self.state.activity.unheard:
            self._activity.heard()
            self._w.set(CallState.activity, self._activity.activity)

    async def send_report(self) -> SendReport | None:
        """What the SFU's receiver reports say of the audio this client sends in this call."""
        return await self._media.send_report()

    def refresh_participants(self) -> None:
        """Publish who is in the call with their current levels (the client's audio tick)."""
        if self.state.connection not in _LIVE:
            return
        adm = self._adm
        me = local_participant(
            self.client.user, self.state.role, adm, muted=not self.state.microphone_enabled
        )
        self._w.set(CallState.participants, [me, *self._roster.snapshot(adm)])

    # --- events from the server ---------------------------------------------------------------

    def handle_event(self, event: p.CallEvent | p.CallRingEvent) -> None:
        """Every server event about this call arrives here (the client routes them by cid)."""
        match event:
            case p.CallRingEvent():
                self.info = event.call
                caller = User(event.caller.id, event.caller.name)
                expires = time.monotonic() + event.timeout_s if event.timeout_s else None
                self._w.set(CallState.ringing, RingInfo(caller=caller, expires_at=expires))
            case p.ParticipantJoinedEvent():
                if event.user.id != self.client.user.id:
                    self._roster.joined(event.user, event.role)
                    self.refresh_participants()
            case p.ParticipantLeftEvent():
                self._roster.left(event.user.id, event.reason)
                if self._adm is not None:
                    self._adm.remove_remote(event.user.id)
                self.refresh_participants()
            case p.ParticipantMutedEvent():
                if self._roster.update(event.user.id, audio_muted=event.audio_muted):
                    self.refresh_participants()
            case p.ParticipantAwayEvent():
                if self._roster.update(event.user.id, away=event.away):
                    self.refresh_participants()
            case p.SfuTracksEvent() | p.SfuCandidateEvent() | p.SfuOfferEvent():
                self._media.handle_event(event)
            case p.CallMediaErrorEvent():
                self._on_media_failure(event.message)
            case p.CallLevelsEvent():
                self._roster.set_activity(event.levels)  # right for suspended calls too
                suspended = self.state.audio_mode is AudioMode.SUSPENDED
                self._activity.observe(self._roster.talking_names(), suspended=suspended)
                self.refresh_participants()
            case p.CallAcceptedEvent():
                if event.user.id == self.client.user.id:
                    self._clear_ring()  # accepted on another device
                else:
                    self._w.set(CallState.outgoing_ring, self.state.outgoing_ring - {event.user.id})
                    self._note_ring_response(event.user.id, "accepted")
            case p.CallRejectedEvent() | p.CallMissedEvent():
                self._on_ring_ended(event)
            case p.CallEndedEvent():
                self.client.spawn(self._on_ended())
            case _:
                assert_never(event)

    def _on_ring_ended(self, event: p.CallRejectedEvent | p.CallMissedEvent) -> None:
        ringing = self.state.ringing
        if event.user.id == self.client.user.id or (
            ringing is not None and event.user.id == ringing.caller.id
        ):
            self._clear_ring()  # our ring was cancelled, timed out, or declined elsewhere
            return
        if event.user.id not in self.state.outgoing_ring:
            return
        remaining = self.state.outgoing_ring - {event.user.id}
        self._w.set(CallState.outgoing_ring, remaining)
        response = event.reason if isinstance(event, p.CallRejectedEvent) else "missed"
        self._note_ring_response(event.user.id, response)
        if not remaining and not self.state.remote_participants:
            self.client.spawn(self.leave())  # nobody answered a call we placed: hang up
