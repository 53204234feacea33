"""The audio levers of one call: what its audio device module holds in each audio mode.

A decision of the focus manager sets a call's mode; ``pull_audio_levers`` then makes the call's
ADM match it. Releases always happen before claims, so two calls never hold the microphone or
the full-volume speaker at once, even for the length of one lever.
"""

from __future__ import annotations

from mctui.audio.adm import AudioDeviceModule
from mctui.engine.state import AudioMode


def pull_audio_levers(
    adm: AudioDeviceModule,
    mode: AudioMode,
    can_publish: bool,
    capture: bool,
    duck_gain_db: float,
    *,
    transmit: bool = False,
) -> None:
    """Suspended: nothing held, nobody played. Ducked: the speaker at ``duck_gain_db``, no mic.
    Focused: mic (if this user may publish) and speaker held, capturing if ``capture``.
    ``transmit`` (a patch, ``Call.set_transmit``): the mic held and capturing in any mode,
    the speaker as the mode says."""
    if mode is AudioMode.SUSPENDED:
        _background_microphone(adm, transmit)
        adm.release_speaker()
        for remote_id in adm.remotes:
            adm.set_remote_enabled(remote_id, False)
    elif mode is AudioMode.DUCKED:
        _background_microphone(adm, transmit)
        for remote_id in adm.remotes:
            adm.set_remote_enabled(remote_id, True)
        adm.hold_speaker(duck_gain_db)
    else:
        if can_publish:
            adm.hold_microphone()
        else:
            adm.release_microphone()
        for remote_id in adm.remotes:
            adm.set_remote_enabled(remote_id, True)
        adm.hold_speaker(0.0)
        adm.set_capture_enabled(capture or transmit)


def _background_microphone(adm: AudioDeviceModule, transmit: bool) -> None:
    """A room out of focus gets the mic only when the user patched it in."""
    if transmit:
        adm.hold_microphone()
        adm.set_capture_enabled(True)
    else:
        adm.set_capture_enabled(False)
        adm.release_microphone()
