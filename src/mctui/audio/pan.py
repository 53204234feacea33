"""Where each room sits between the left and right speaker: a constant-power pan law, and the
automatic placement of the rooms heard in the background.

The law is normalised to the centre: a room in the middle plays as it always did (gain 1 on both
sides), and moving it keeps ``gL² + gR² = 2``, so it sounds as loud wherever it sits (a room
hard left is +3 dB on the left and silent on the right)."""

from __future__ import annotations

import math

#: How far out the automatic placement goes: rooms never sit in one ear only.
AUTO_SPREAD = 0.8


def clamp_pan(pan: float) -> float:
    """``pan`` within -1 (left) .. +1 (right); not-a-number is the centre."""
    if math.isnan(pan):
        return 0.0
    return max(-1.0, min(1.0, pan))


def pan_gains(pan: float) -> tuple[float, float]:
    """The left and right gains for ``pan`` (-1 left .. +1 right): (1, 1) in the centre."""
    angle = (clamp_pan(pan) + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(angle), math.sqrt(2.0) * math.sin(angle)


def auto_pans(count: int) -> list[float]:
    """Positions for ``count`` background rooms, left to right in pane order: evenly spread
    over ±``AUTO_SPREAD`` as if the focused room had a slot among them in the middle (which is
    left out), so none sits where the focused room is."""
    if count <= 0:
        return []
    slots = [-AUTO_SPREAD + 2 * AUTO_SPREAD * k / count for k in range(count + 1)]
    del slots[(count + 1) // 2]
    return [round(slot, 3) for slot in slots]
