"""Baseline and drift: the runner's own form from the early minutes, and sustained moves away.

A pure state machine fed with form windows. A drift episode starts once a metric has
stayed past its threshold for `persist_s` seconds of running, and ends once it has stayed
back within the (smaller) `clear` band for `clear_s` seconds: a persistence window with
hysteresis, so a short wobble or a hill crest does not start or end one.

Terrain and pace are not faults:

- where a footpod gives the speed, each metric is compared with what the baseline says it
  would be at the current speed (`per_mps` in the rules); without one, rules that say so
  read the change of pace from the cadence;
- bounce is compared at the baseline's step time (slower steps travel higher for the same
  push), and overstriding needs harder landings as well as slower steps (`needs`), so a
  runner who just chooses another step frequency is not cued;
- a change of tilt that comes with the opposite change of braking is a hill (`terrain`):
  every rule is held, saying nothing, while it lasts.

A sensor that moved on the body (`mounting`) ends the drifts of what it measures through
its axes (tilt, braking, the angles per stride), which are then learned again from
`relearn_s` of running; so is any metric first measured after the baseline. The rules
themselves are read and checked in `rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from companion.form.metrics import FOOTPOD, SPINE, key
from companion.form.mounting import MountWatch, Remount
from companion.form.record import Episode
from companion.form.rules import DriftRule, Need
from companion.form.terrain import Terrain, TerrainSettings, terrain
from sensors.samples import Placement

if TYPE_CHECKING:
    from companion.form.analysis import FormWindow  # scipy: not needed to read rules

SPEED = key(FOOTPOD, "speed_mps")


@dataclass(frozen=True)
class Baseline:
    """The runner's own values (medians over the learning minutes), by `source.metric`."""

    values: dict[str, float]
    spread: dict[str, float]  # median absolute deviation, for context
    speed_mps: float | None = None  # the footpod's median speed while learning


class BaselineLearner:
    """Skips `warmup_s` of running, then learns from the next `learn_s` of running."""

    def __init__(self, warmup_s: float = 60.0, learn_s: float = 120.0):
        self.warmup_s = warmup_s
        self.learn_s = learn_s
        self._seen: dict[str, list[float]] = {}

    def add(self, w: FormWindow, running_s: float) -> Baseline | None:
        """Feed a running window at `running_s` seconds of running; the baseline when done."""
        if running_s <= self.warmup_s:
            return None
        for name, value in w.values.items():
            self._seen.setdefault(name, []).append(value)
        if running_s < self.warmup_s + self.learn_s:
            return None
        values = {k: float(np.median(v)) for k, v in self._seen.items()}
        spread = {
            k: float(np.median(np.abs(np.subtract(v, values[k])))) for k, v in self._seen.items()
        }
        return Baseline(values, spread, values.get(SPEED))


def overstride_pct(w: FormWindow, baseline: Baseline, rules: tuple[DriftRule, ...]) -> float | None:
    """The footpod's overstride indicator: how much longer the strides and how much lower
    the cadence are than the runner's own at this speed, in percent (the mean of the two;
    0 on form, positive when overstriding)."""
    by_metric = {r.metric: r for r in rules if FOOTPOD in r.faults}
    parts = []
    for metric in ("stride_m", "cadence_spm"):
        name = key(FOOTPOD, metric)
        value, base, rule = w.values.get(name), baseline.values.get(name), by_metric.get(metric)
        if value is None or base is None or rule is None:
            return None
        parts.append(rule.excess(value, rule.expected(base, baseline.speed_mps, w.speed_mps)))
    return 100 * float(np.mean(parts))


@dataclass
class _RuleState:
    past_since: float | None = None  # running past the threshold since
    back_since: float | None = None  # an open episode back within `clear` since
    episode: Episode | None = None


def _since(since: float | None, now: float, holds: bool) -> float | None:
    """Since when a condition has held without a break, or None while it does not."""
    if not holds:
        return None
    return now if since is None else since


@dataclass(frozen=True)
class DriftChange:
    episode: Episode
    started: bool  # False: it ended
    moved: bool = False  # it ended because the sensor moved: it was never the runner's


# Read through the sensor's axes: wrong once it moves on the body.
THROUGH_AXES = ("lean_deg", "side_lean_deg", "braking_g", "pelvic_drop_deg", "rotation_deg")


class DriftDetector:
    """Follows each rule, for each source it names, against the runner's baseline."""

    def __init__(
        self,
        rules: tuple[DriftRule, ...],
        baseline: Baseline,
        terrain: TerrainSettings | None = None,
        relearn_s: float = 60.0,
        slopes: dict[str, float] | None = None,
    ):
        self.baseline = baseline
        self.slopes = slopes or {}  # `source.metric` -> the runner's own change per m/s
        self.values = dict(baseline.values)  # what each metric is compared with, now
        self.terrain_settings = terrain or TerrainSettings()
        self.terrain = Terrain.LEVEL  # what the latest window's tilt and braking say
        self.hill = Terrain.LEVEL  # the same, once it has held for `hill_s` (for the log)
        self.hill_s = 5.0
        self._terrain_since = -np.inf
        self.relearn_s = relearn_s
        self._count = 0
        self._by = {(r.metric, r.direction): r for r in rules}
        self._rules = [
            (rule, source, key(source, rule.metric), _RuleState())
            for rule in rules
            for source in rule.faults
        ]
        # Metrics the baseline does not have yet, learned once they are measured.
        self._learning: dict[str, list[float]] = {
            name: [] for *_, name, _ in self._rules if name not in self.values
        }
        # Learned again after the sensor moved: until they are, nothing tells a hill, so
        # every rule holds.
        self._relearning: set[str] = set()
        trunk = (Placement.PELVIS.value, Placement.CHEST.value)
        self._mounts = {s: MountWatch(hills=self.terrain_settings) for s in trunk}
        self.remounts: list[tuple[str, Remount]] = []  # for the caller to act on and take

    @property
    def open_episodes(self) -> list[Episode]:
        return [st.episode for *_, st in self._rules if st.episode is not None]

    def pause(self) -> None:
        """The runner stopped: sustained means sustained while running, so start again."""
        for *_, st in self._rules:
            st.past_since = st.back_since = None
        for watch in self._mounts.values():
            watch.stopped()

    def excess(
        self, w: FormWindow, rule: DriftRule, source: str, pace_from_cadence: bool = True
    ) -> tuple[float, float] | None:
        """How far past the baseline `source`'s metric is in window `w`, in the rule's
        direction and unit, and the baseline value it was compared with (None: not known).
        `pace_from_cadence=False` ignores the rule's reading of pace from the cadence."""
        name = key(source, rule.metric)
        value, base = w.values.get(name), self.values.get(name)
        if value is None or base is None:
            return None
        ratio = self._cadence_ratio(w, source)
        if rule.cadence_power:
            if ratio is None:
                return None
            value *= ratio**rule.cadence_power
        from_cadence = rule.pace_from_cadence and pace_from_cadence
        faster = self._faster(w, source, ratio if from_cadence else None)
        base = rule.at_pace(base, faster, self.slopes.get(name))
        return rule.excess(value, base), base

    def _cadence_ratio(self, w: FormWindow, source: str) -> float | None:
        name = key(source, "cadence_spm")
        value, base = w.values.get(name), self.values.get(name)
        return value / base if value is not None and base else None

    def _faster(self, w: FormWindow, source: str, cadence_ratio: float | None) -> float | None:
        """How much faster than while learning the runner goes: from the footpod, else
        from `source`'s cadence when given its ratio to the baseline's (m/s; None: not
        known)."""
        speed, base = w.speed_mps, self.baseline.speed_mps
        if speed is not None and base is not None:
            return speed - base
        cadence = self._by.get(("cadence_spm", "below"))
        if cadence_ratio is None or cadence is None:
            return None
        per_mps = self.slopes.get(key(source, "cadence_spm"), cadence.per_mps)
        return (cadence_ratio - 1) / per_mps if per_mps > 0 else None

    def _moved(self, w: FormWindow, source: str, metric: str, need: Need) -> bool | None:
        """Whether `metric` has moved as far as `need` says (None: not measured). The
        footpod's rules look to the trunk sensors. Pace is not read from the cadence here:
        what is needed is what moved with it."""
        rule = self._by.get((metric, need.direction))
        sources = (source,) if source != FOOTPOD else (Placement.PELVIS, Placement.CHEST)
        for src in sources:
            name = key(src, metric)
            if name in self._relearning or (name in self._learning and name in w.values):
                return False  # measured, but not yet known what it was: wait
            found = self.excess(w, rule, src, pace_from_cadence=False) if rule else None
            if found is not None:
                assert rule is not None
                return found[0] >= need.by
        return None

    def _load(self, w: FormWindow, source: str) -> float | None:
        """How much harder `source`'s landings are than the baseline's at this pace and step
        rate: braking and bounce, each as a share, added (None: not known)."""
        parts = []
        for metric in ("braking_g", "bounce_cm"):
            rule = self._by.get((metric, "above"))
            found = self.excess(w, rule, source) if rule is not None else None
            if found is None:
                return None
            parts.append(found[0])
        return sum(parts)

    def _terrain(self, w: FormWindow, loads: dict[str, float | None]) -> Terrain:
        """The hill every trunk sensor measured agrees on: on a slope the whole trunk leans
        one way, where the pelvis tipping forward as the ribs flare back is the arch."""
        lean = self._by.get(("lean_deg", "above"))
        if lean is None:
            return Terrain.LEVEL
        found = set()
        for source, load in loads.items():
            tilt = self.excess(w, lean, source)
            if tilt is not None:
                found.add(terrain(tilt[0], load, self.terrain_settings))
        return found.pop() if len(found) == 1 else Terrain.LEVEL

    def _learn(self, w: FormWindow) -> None:
        for name, seen in list(self._learning.items()):
            value = w.values.get(name)
            if value is not None:
                seen.append(value)
            if len(seen) >= self.relearn_s:  # one window a second
                self.values[name] = float(np.median(seen))
                del self._learning[name]
                self._relearning.discard(name)

    def _watch_mounts(self, w: FormWindow, loads: dict[str, float | None]) -> list[DriftChange]:
        changes = []
        for source, watch in self._mounts.items():
            lean = key(source, "lean_deg")
            found = watch.update(
                w.t, w.values.get(lean), loads[source], self.values.get(lean), w.turns.get(source)
            )
            if found is not None:
                changes += self._remounted(source, found)
        return changes

    def _remounted(self, source: str, remount: Remount) -> list[DriftChange]:
        """`source`'s sensor moved: what it read through its axes was the sensor, not the
        runner, and is learned again."""
        changes = []
        for rule, src, name, st in self._rules:
            through_axes = rule.metric in THROUGH_AXES or src == SPINE
            if not through_axes or src not in (source, SPINE):
                continue
            if st.episode is not None:
                st.episode.end, st.episode.moved = remount.t, True
                changes.append(DriftChange(st.episode, started=False, moved=True))
                st.episode = None
            st.past_since = st.back_since = None
            if self.values.pop(name, None) is not None:
                self._relearning.add(name)
            self._learning[name] = []
        self._mounts[source].reset()
        self.remounts.append((source, remount))
        return changes

    def update(self, w: FormWindow) -> list[DriftChange]:
        self._learn(w)
        loads = {source: self._load(w, source) for source in self._mounts}
        changes = self._watch_mounts(w, loads)  # a moved sensor's tilt is unknown after it
        terrain = self._terrain(w, loads)
        if terrain is not self.terrain:
            self.terrain, self._terrain_since = terrain, w.t
        if w.t - self._terrain_since >= self.hill_s:
            self.hill = self.terrain
        for rule, source, name, st in self._rules:
            found = self.excess(w, rule, source)
            if found is None:
                continue
            excess, base = found
            value = w.values[name]
            ep = st.episode
            if ep is None:
                level = self.terrain is Terrain.LEVEL and not self._relearning
                holds = excess >= rule.threshold and level
                if holds and rule.needs:
                    moved = [self._moved(w, source, m, need) for m, need in rule.needs.items()]
                    holds = all(m is not False for m in moved)
                st.past_since = _since(st.past_since, w.t, holds)
                if st.past_since is not None and w.t - st.past_since >= rule.persist_s:
                    self._count += 1
                    ep = Episode(
                        name,
                        rule.direction,
                        rule.faults[source],
                        base,
                        w.t,
                        value,
                        excess,
                        rule.relative,
                        peak_t=w.t,
                        peak_excess=excess,
                        id=self._count,
                    )
                    st.episode, st.past_since = ep, None
                    changes.append(DriftChange(ep, started=True))
                continue
            if excess > ep.peak_excess:
                ep.peak_excess, ep.peak_t = excess, w.t
            st.back_since = _since(st.back_since, w.t, excess < rule.clear)
            if st.back_since is not None and w.t - st.back_since >= rule.clear_s:
                ep.end, ep.value, ep.excess = w.t, value, excess
                st.episode, st.back_since = None, None
                changes.append(DriftChange(ep, started=False))
        return changes

    def close(self, t: float) -> list[Episode]:
        """End every open episode at `t` (the run is over)."""
        closed = []
        for *_, st in self._rules:
            if st.episode is not None:
                st.episode.end, st.episode.ran_out = t, True
                closed.append(st.episode)
                st.episode = None
        return closed
