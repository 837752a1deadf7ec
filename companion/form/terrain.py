"""Hills: telling a slope from a posture fault with no grade source.

A trunk sensor tilts with the trunk, and runners lean into a climb: on the sacral treadmill
trials the pelvis reads 7-12 degrees forward uphill and 3-5 back downhill, as a posture
fault would. What a slope also does, and a posture change does not, is move the braking at
each landing the other way: uphill the legs push and barely brake (24-38 % less braking
at +5 to +10 degrees), downhill they brake hard (12-19 % more at -5). Per degree of tilt
that is 2.4-5.8 % of braking the opposite way, against about 1 % for the sensor tilted
alone and none or the same way for a tilt that comes with harder landings.

Pure: the caller gives the tilt and the braking, each against the runner's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Terrain(StrEnum):
    LEVEL = "level"
    UPHILL = "uphill"
    DOWNHILL = "downhill"


@dataclass(frozen=True)
class TerrainSettings:
    min_tilt_deg: float = 2.5  # a smaller change of tilt is not worth explaining
    braking_per_deg: float = 0.0175  # at least this share less braking per degree forward
    min_braking: float = 0.06  # and at least this share in all (the runner's own wander)


def terrain(
    tilt_deg: float | None, braking: float | None, settings: TerrainSettings | None = None
) -> Terrain:
    """The slope that explains a change of forward tilt (degrees, forward positive) and of
    braking (a share of the baseline's, at the current pace), or level."""
    s = settings or TerrainSettings()
    if tilt_deg is None or braking is None or abs(tilt_deg) < s.min_tilt_deg:
        return Terrain.LEVEL
    if abs(braking) < s.min_braking or -braking / tilt_deg < s.braking_per_deg:
        return Terrain.LEVEL
    return Terrain.UPHILL if tilt_deg > 0 else Terrain.DOWNHILL
