"""A sensor that moved on the body: a strap slid down the chest, a clip put back at a stop.

The body axes and the tilt the coach compares with are learned once the run settles; a
sensor that moves afterwards reads, from then on, exactly like a posture fault. What tells
them apart is how the change comes:

- a posture drifts over tens of seconds; a strap slips, or is put back, at once: a change
  of tilt between two windows one window apart that is larger than `step_deg`, with no
  hill's change of the landings to explain it (`terrain`);
- across a stop the runner may have touched the sensor: the same test between the last
  window before the stop and the first after it;
- further from the learned tilt than the steepest hill leans a runner (`beyond_deg`);
- a turn of the forward axis about the vertical, which no posture or hill makes, or the
  forward axis found the other way round (the analysis estimates the axes again each minute
  and after each stop, `TrunkWindow.forward_turn_deg`: 180 for turned round).

Pure: one watch per trunk sensor, fed its running windows; time is the windows' own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from companion.form.terrain import Terrain, TerrainSettings, terrain


@dataclass(frozen=True)
class MountSettings:
    step_deg: float = 3.5  # a change of tilt from one window to the next this large...
    steady_deg: float = 1.5  # ... with the windows either side steadier than this
    window_s: float = 10.0
    beyond_deg: float = 15.0  # the steepest hill tilts the pelvis about 12 degrees
    turn_deg: float = 20.0  # the forward axis turned about the vertical this far


@dataclass(frozen=True)
class Remount:
    t: float
    why: str  # for the log: what showed it


@dataclass(frozen=True)
class _Reading:
    t: float
    lean: float
    load: float | None


class MountWatch:
    """Whether one sensor's windows show it moved on the body."""

    def __init__(self, settings: MountSettings | None = None, hills: TerrainSettings | None = None):
        self.settings = settings or MountSettings()
        self.hills = hills
        self._recent: deque[_Reading] = deque()
        self._before_stop: _Reading | None = None

    def stopped(self) -> None:
        """The runner stopped: the next window is compared with the last before."""
        if self._recent:
            self._before_stop = self._recent[-1]
        self._recent.clear()

    def reset(self) -> None:
        """The references were learned again: start afresh."""
        self._recent.clear()
        self._before_stop = None

    def update(
        self,
        t: float,
        lean: float | None,
        load: float | None,
        reference_lean: float | None,
        forward_turn_deg: float | None = None,
    ) -> Remount | None:
        """Feed one running window: its tilt reading (degrees), its landings' load against
        the baseline's (a share, see `terrain`), the tilt learned, and the forward axis's
        turn if the analysis estimated it again."""
        s = self.settings
        if forward_turn_deg is not None and forward_turn_deg >= s.turn_deg:
            return Remount(t, f"the forward axis turned {forward_turn_deg:.0f}°")
        if lean is None:
            return None
        now = _Reading(t, lean, load)
        if reference_lean is not None and abs(lean - reference_lean) >= s.beyond_deg:
            return Remount(t, f"the tilt is {lean - reference_lean:+.0f}° from the learned")
        before, self._before_stop = self._before_stop, None
        if before is not None and self._moved(before, now):
            return Remount(t, f"the tilt changed {lean - before.lean:+.1f}° across the stop")
        self._recent.append(now)
        while self._recent and self._recent[0].t < t - 3 * s.window_s - 1.5:
            self._recent.popleft()
        return self._step()

    def _at(self, t: float) -> _Reading | None:
        """The latest reading at or before `t`, if the history goes back that far."""
        found = None
        for r in self._recent:
            if r.t > t:
                break
            found = r
        return found

    def _step(self) -> Remount | None:
        """A step: the window one window back differs from the one before it by more than
        `step_deg`, and the windows either side of the pair are steady. A posture that
        drifts, even fast, changes window after window; a sensor that slips changes once."""
        s = self.settings
        now = self._recent[-1]
        at = self._at(now.t - s.window_s)
        before = self._at(now.t - 2 * s.window_s)
        earlier = self._at(now.t - 3 * s.window_s)
        if at is None or before is None or earlier is None:
            return None
        if abs(now.lean - at.lean) > s.steady_deg or abs(before.lean - earlier.lean) > s.steady_deg:
            return None
        if not self._moved(before, at):
            return None
        return Remount(at.t, f"the tilt stepped {at.lean - before.lean:+.1f}° within seconds")

    def _moved(self, before: _Reading, after: _Reading) -> bool:
        change = after.lean - before.lean
        if abs(change) < self.settings.step_deg:
            return False
        if before.load is not None and after.load is not None:
            hill = terrain(change, after.load - before.load, self.hills)
            return hill is Terrain.LEVEL
        return True
