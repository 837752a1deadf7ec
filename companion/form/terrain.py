"""Hills: telling a slope from a posture fault with no grade source.

A trunk sensor tilts with the trunk, and runners lean into a climb: on the sacral treadmill
trials the pelvis reads 7-12 degrees forward uphill and 3-5 back downhill, as a posture
fault would. What a slope also does, and a posture change does not, is load each landing
the other way: uphill the legs push and barely brake (24-38 % less braking at +5 to +10
degrees) and bounce less, downhill they brake harder (up to 19 % at -5) and drop further
(bounce up to 21 % at the same step rate). The landing's load is taken as braking and bounce
(each a share of the baseline's, at this pace and step rate) added together. Per degree of
tilt a slope moves it 2-7 % the opposite way; the sensor tilted alone moves it about 1 %,
and a tilt that comes with harder landings moves it the same way.

Pure: the caller gives the tilt and the landing's load, each against the runner's baseline.
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
    load_per_deg: float = 0.0175  # at least this share less load per degree forward
    min_load: float = 0.06  # and at least this share in all (the runner's own wander)


def terrain(
    tilt_deg: float | None, load: float | None, settings: TerrainSettings | None = None
) -> Terrain:
    """The slope that explains a change of forward tilt (degrees, forward positive) and of
    the landing's load (braking and bounce, shares of the baseline's), or level."""
    s = settings or TerrainSettings()
    if tilt_deg is None or load is None or abs(tilt_deg) < s.min_tilt_deg:
        return Terrain.LEVEL
    if abs(load) < s.min_load or -load / tilt_deg < s.load_per_deg:
        return Terrain.LEVEL
    return Terrain.UPHILL if tilt_deg > 0 else Terrain.DOWNHILL
