"""Who else is in one call: the roster a call keeps from the server's events, and the levels
each participant shows.

The ``Call`` owns one ``Roster`` and is the only one that changes it (from server events and
rejoins); ``snapshot`` turns it into the ``Participant`` list the call publishes.
"""

from __future__ import annotations

import dataclasses

from mctui import protocol as p
from mctui.audio.adm import AudioDeviceModule
from mctui.audio.levels import FLOOR_DBFS
from mctui.engine.state import Participant
from mctui.engine.types import User


def local_participant(
    user: User, role: str | None, adm: AudioDeviceModule | None, *, muted: bool
) -> Participant:
    """This client in the call, with its microphone's meter."""
    capturing = adm is not None and adm.is_capturing
    return Participant(
        user=user,
        role=role or "member",
        is_local=True,
        is_speaking=capturing and adm is not None and adm.mic_speaking,
        audio_level=adm.mic_level_dbfs if adm is not None else FLOOR_DBFS,
        audio_peak=adm.mic_peak_dbfs if adm is not None else FLOOR_DBFS,
        audio_muted=muted,
        published_tracks=frozenset({"audio"}) if capturing else frozenset(),
    )


class Roster:
    """The remote participants of one call, their SFU speaking activity, and why those who
    left did."""

    def __init__(self) -> None:
        self._people: dict[str, Participant] = {}
        self._activity: dict[str, p.ParticipantActivity] = {}
        #: Why each participant who left did (``left``, ``disconnected``, ``timeout`` ...).
        self.departures: dict[str, str] = {}

    def __contains__(self, user_id: str) -> bool:
        return user_id in self._people

    def clear(self) -> None:
        self._people.clear()
        self._activity = {}

    def joined(self, user: p.UserInfo, role: str = "member") -> None:
        self._people[user.id] = Participant(User(user.id, user.name), role=role)

    def left(self, user_id: str, reason: str) -> None:
        self.departures[user_id] = reason
        self._people.pop(user_id, None)

    def talking(self) -> set[str]:
        """Who the SFU says is talking now (not muted, still here)."""
        return {
            uid
            for uid, activity in self._activity.items()
            if activity.speaking and uid in self._people and not self._people[uid].audio_muted
        }

    def talking_names(self) -> list[str]:
        """The display names (else ids) of who the SFU says is talking now."""
        return [self._people[uid].user.name or uid for uid in self.talking()]

    def forget_if_away(self, user_ids: list[str], reason: str) -> list[str]:
        """Those of ``user_ids`` still away leave, with ``reason``; returns who left."""
        gone = [uid for uid in user_ids if uid in self._people and self._people[uid].away]
        for uid in gone:
            self.left(uid, reason)
        return gone

    def update(self, user_id: str, **changes: object) -> bool:
        """Change fields of one participant (``audio_muted``, ``away``); False if unknown."""
        old = self._people.get(user_id)
        if old is None:
            return False
        self._people[user_id] = dataclasses.replace(old, **changes)  # type: ignore[arg-type]
        return True

    def set_activity(self, levels: dict[str, p.ParticipantActivity]) -> None:
        self._activity = dict(levels)

    def sync(self, users: list[p.UserInfo], me: str, *, keep_absent: bool = False) -> list[str]:
        """Make the roster the server's list (after a rejoin); returns who is not on it. Those
        are gone, or with ``keep_absent`` (a server that lost everyone's place: the others
        are rejoining too, in their own time) marked away until they come back or the caller
        gives up on them (``forget_if_away``)."""
        present = {u.id: u for u in users if u.id != me}
        gone = [uid for uid in self._people if uid not in present]
        for uid in gone:
            if keep_absent:
                self.update(uid, away=True)
            else:
                self.left(uid, "left")
        for uid, user in present.items():
            if uid in self._people:
                self.update(uid, away=False)
            else:
                self.joined(user)
        return gone

    def snapshot(self, adm: AudioDeviceModule | None) -> list[Participant]:
        """Each participant with their current level: the exact meter of what is played when
        this call plays them, else who talks as the SFU sees it (suspended calls too)."""
        out = []
        playing = adm is not None and adm.holds_speaker
        for participant_id, participant in self._people.items():
            remote = adm.remotes.get(participant_id) if adm is not None else None
            activity = self._activity.get(participant_id)
            if remote is not None and playing and remote.enabled:
                level, peak = remote.level_dbfs, remote.peak_dbfs
                speaking, heard = remote.speaking, True
            elif activity is not None and participant.audio_muted:
                # an SFU that learns of silence only from packets (Janus) may still say
                # "talking" about someone who muted and stopped sending
                level, peak, speaking, heard = FLOOR_DBFS, FLOOR_DBFS, False, False
            elif activity is not None:
                level, peak = activity.level_dbfs, activity.level_dbfs
                speaking, heard = activity.speaking, False
            else:
                out.append(participant)
                continue
            out.append(
                dataclasses.replace(
                    participant,
                    is_speaking=speaking,
                    audio_level=level,
                    audio_peak=peak,
                    published_tracks=frozenset({"audio"}),
                    heard=heard,
                )
            )
        return out
