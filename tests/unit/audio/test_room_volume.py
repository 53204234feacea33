"""A room's volume in the speaker mix, on the session's own output: exact steps, before the
policy's ducking, silence at the bottom (the real-call version: ``test_volume``)."""

from __future__ import annotations

import numpy as np
import pytest

from mctui.audio.adm import VOLUME_MUTED_DB
from mctui.audio.backends import NullBackend
from mctui.audio.config import FRAME_SAMPLES, AudioConfigurationPolicy
from mctui.audio.levels import FLOOR_DBFS, rms_dbfs
from mctui.bots.signals import tone


class Tone:
    """A remote that always has its next 20 ms of a 1 kHz tone ready."""

    def __init__(self) -> None:
        self.signal = tone(1000, 0.25)
        self.at = 0

    def pull(self) -> np.ndarray:
        frame = self.signal[self.at : self.at + FRAME_SAMPLES]
        self.at = (self.at + FRAME_SAMPLES) % self.signal.size
        return frame


def mix_level(volume_db: float, duck_db: float) -> float:
    from mctui.audio.session import AudioSession

    session = AudioSession(NullBackend())
    adm = session.create_adm("room", AudioConfigurationPolicy.hifi())
    adm.attach_source("talker", Tone())
    adm.volume_db = volume_db
    adm.hold_speaker(duck_db)
    out = np.concatenate([session.process(np.zeros(FRAME_SAMPLES, np.float32)) for _ in range(50)])
    return float(rms_dbfs(out[:, 0])[0])


@pytest.mark.parametrize(
    ("volume_db", "duck_db"), [(-6.0, 0.0), (3.0, 0.0), (12.0, 0.0), (3.0, -18.0), (-9.0, -18.0)]
)
def test_the_volume_adds_to_the_ducking_to_a_tenth_of_a_db(volume_db, duck_db):
    unity = mix_level(0.0, 0.0)
    assert mix_level(volume_db, duck_db) - unity == pytest.approx(volume_db + duck_db, abs=0.1)


def test_the_lowest_step_is_silence():
    assert mix_level(VOLUME_MUTED_DB, 0.0) <= FLOOR_DBFS  # the meter's floor: nothing at all
