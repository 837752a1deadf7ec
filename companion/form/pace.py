"""The runner's own change of form with pace, learned from their runs.

The rules' `per_mps` slopes come from one runner's treadmill trials. Each run with a speed
source holds the runner's own: within the run, how each metric moves as the pace does. A run
keeps the sums that fit needs (`PaceSums`, about the run's own means, so that one run's
faster day is not taken for a slope); pooled over the runner's runs they give the slopes
the coach uses instead, once there is enough pace change to tell (`runner_slopes`).

Pure: seconds in, sums and slopes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from companion.form.metrics import FOOTPOD, key
from companion.form.record import Second

if TYPE_CHECKING:
    from companion.form.rules import DriftRule  # the history reads sums without the rules

SPEED = key(FOOTPOD, "speed_mps")
MIN_SECONDS = 600.0  # ten minutes of running with a speed...
MIN_SPREAD_MPS = 0.2  # ... whose pace varied at least this much (standard deviation)


@dataclass(frozen=True)
class PaceSums:
    """Sums over one run's seconds of speed `v` and a metric `y`."""

    n: int = 0
    sv: float = 0.0
    sy: float = 0.0
    svv: float = 0.0
    svy: float = 0.0

    def add(self, v: float, y: float) -> PaceSums:
        return PaceSums(self.n + 1, self.sv + v, self.sy + y, self.svv + v * v, self.svy + v * y)

    @property
    def spread(self) -> float:
        """Σ(v - v̄)²: how much the pace varied in the run."""
        return self.svv - self.sv**2 / self.n if self.n else 0.0

    def moved(self, relative: bool) -> float:
        """Σ(v - v̄)(y - ȳ), over ȳ when the metric is judged relative to its baseline."""
        if not self.n:
            return 0.0
        covariance = self.svy - self.sv * self.sy / self.n
        return covariance / (self.sy / self.n) if relative and self.sy else covariance


def paced_metrics(rules: Iterable[DriftRule]) -> dict[str, bool]:
    """`source.metric` -> relative, for every metric a rule moves with the pace."""
    return {
        key(source, rule.metric): rule.relative
        for rule in rules
        if rule.per_mps
        for source in rule.faults
    }


def pace_sums(seconds: Iterable[Second]) -> dict[str, PaceSums]:
    """One run's sums for every metric, over the seconds it judged while running with a
    speed and no drift (a drift is the runner's form changing, not the pace)."""
    sums: dict[str, PaceSums] = {}
    for s in seconds:
        v = s.values.get(SPEED)
        if v is None or not s.judged or s.drifting:
            continue
        for name, y in s.values.items():
            if name != SPEED:
                sums[name] = sums.get(name, PaceSums()).add(v, y)
    return sums


def runner_slopes(
    runs: Iterable[dict[str, PaceSums]],
    relative: dict[str, bool],
    min_s: float = MIN_SECONDS,
    min_spread_mps: float = MIN_SPREAD_MPS,
) -> dict[str, float]:
    """The change per m/s of each metric, pooled within the runner's runs, for those with
    enough running at varied pace (in the rules' units: a share of the baseline when
    relative)."""
    n: dict[str, int] = {}
    spread: dict[str, float] = {}
    moved: dict[str, float] = {}
    for run in runs:
        for name, sums in run.items():
            if name not in relative:
                continue
            n[name] = n.get(name, 0) + sums.n
            spread[name] = spread.get(name, 0.0) + sums.spread
            moved[name] = moved.get(name, 0.0) + sums.moved(relative[name])
    return {
        name: moved[name] / spread[name]
        for name in n
        if n[name] >= min_s and spread[name] >= n[name] * min_spread_mps**2
    }
