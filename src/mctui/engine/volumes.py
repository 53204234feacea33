"""Each room's volume in the speaker mix, kept per room across runs.

``call.set_volume_db`` asks here: the value is snapped to ``VOLUME_STEP_DB`` steps between
silence (``VOLUME_MUTED_DB``) and ``VOLUME_MAX_DB``, and written to a small JSON file in the
user's state directory (``join`` passes it; in-process clients keep it in memory), so a room
you turned down stays down the next time you join it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from mctui.audio.adm import VOLUME_MAX_DB, VOLUME_MUTED_DB, VOLUME_STEP_DB

__all__ = ["VOLUME_MAX_DB", "VOLUME_MUTED_DB", "VOLUME_STEP_DB", "RoomVolumes", "snap", "step"]

log = logging.getLogger(__name__)
#: The quietest audible step; one below it is silence.
VOLUME_MIN_DB = -30.0


def snap(volume_db: float) -> float:
    """The step nearest ``volume_db``: silence below ``VOLUME_MIN_DB``, at most +12 dB."""
    if volume_db < VOLUME_MIN_DB - VOLUME_STEP_DB / 2:
        return VOLUME_MUTED_DB
    return min(VOLUME_MAX_DB, round(volume_db / VOLUME_STEP_DB) * VOLUME_STEP_DB)


def step(volume_db: float, steps: int) -> float:
    """``steps`` steps up (or down) from ``volume_db``; down from the lowest step is silence,
    up from silence is the lowest step."""
    if volume_db <= VOLUME_MUTED_DB:
        return VOLUME_MIN_DB if steps > 0 else VOLUME_MUTED_DB
    return snap(volume_db + steps * VOLUME_STEP_DB)


class RoomVolumes:
    """Room cid -> volume (dB). ``path`` None: kept for this process only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._volumes: dict[str, float] = {}
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text())
                self._volumes = {str(k): snap(float(v)) for k, v in dict(loaded).items()}
            except (OSError, ValueError, TypeError) as exc:
                log.warning("ignoring the room volumes in %s: %s", path, exc)

    def get(self, cid: str) -> float:
        return self._volumes.get(cid, 0.0)

    def set(self, cid: str, volume_db: float) -> float:
        """Keep ``volume_db`` (snapped) for ``cid``; returns what was kept."""
        kept = snap(volume_db)
        self._volumes[cid] = kept
        if self.path is not None:
            with contextlib.suppress(OSError):  # a read-only home loses the memory, not the call
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self._volumes, indent=1, sort_keys=True))
        return kept
