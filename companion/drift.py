"""Baseline and drift: the runner's own form from the early minutes, and sustained moves away.

A pure state machine fed with window metrics. A drift episode starts once a metric has
stayed past its threshold for `persist_s` seconds of running, and ends once it has stayed
back within the (smaller) `clear` band for `clear_s` seconds: a persistence window with
hysteresis, so a short wobble or a hill crest does not start or end one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from companion.analysis import WindowMetrics
from cues.datafile import DataFileError, load_entries
from sensors.samples import Placement

DEFAULT_RULES = Path(__file__).with_name("drift_rules.toml")
Metric = Literal["lean_deg", "side_lean_deg", "cadence_spm"]
METRICS: tuple[Metric, ...] = ("cadence_spm", "lean_deg", "side_lean_deg")


class Fault(StrEnum):
    """The posture faults of the coaching knowledge a drift can suggest."""

    FORWARD_LEAN = "forward_lean"
    ANTERIOR_TILT = "anterior_tilt"
    OVERSTRIDE = "overstride"
    BOUNCE = "bounce"
    GLUTES_OFF = "glutes_off"
    SHOULDER_TENSION = "shoulder_tension"

    @property
    def description(self) -> str:
        return _FAULT_WORDS[self]


_FAULT_WORDS = {
    Fault.FORWARD_LEAN: "leaning forward",
    Fault.ANTERIOR_TILT: "pelvis tipping forward",
    Fault.OVERSTRIDE: "overstriding",
    Fault.BOUNCE: "bouncing",
    Fault.GLUTES_OFF: "glutes switching off",
    Fault.SHOULDER_TENSION: "tense shoulders",
}


class DriftRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric
    direction: Literal["above", "below"]
    threshold: float = Field(gt=0)
    clear: float = Field(ge=0)
    relative: bool = False
    persist_s: float = Field(default=20.0, ge=0)
    clear_s: float = Field(default=10.0, ge=0)
    faults: dict[Placement, Fault]

    @model_validator(mode="after")
    def _hysteresis(self) -> DriftRule:
        if self.clear >= self.threshold:
            raise ValueError(f"clear ({self.clear}) must be below threshold ({self.threshold})")
        return self

    def excess(self, value: float, base: float) -> float:
        """How far past the baseline `value` is, in the rule's direction and unit."""
        delta = value - base
        if self.relative:
            delta /= base
        return delta if self.direction == "above" else -delta


class RulesError(DataFileError):
    """A drift rules file that cannot be used, with where and what."""


def load_rules(path: Path | str | None = None) -> tuple[DriftRule, ...]:
    """Read and check a drift rules file (the bundled one by default)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    return tuple(load_entries(path, "rule", DriftRule, RulesError))


@dataclass(frozen=True)
class Baseline:
    """The runner's own values (medians over the learning minutes), by metric."""

    values: dict[Metric, float]
    spread: dict[Metric, float]  # median absolute deviation, for context


class BaselineLearner:
    """Skips `warmup_s` of running, then learns from the next `learn_s` of running."""

    def __init__(self, warmup_s: float = 60.0, learn_s: float = 120.0):
        self.warmup_s = warmup_s
        self.learn_s = learn_s
        self._seen: dict[Metric, list[float]] = {m: [] for m in METRICS}

    def add(self, m: WindowMetrics, running_s: float) -> Baseline | None:
        """Feed a running window at `running_s` seconds of running; the baseline when done."""
        if running_s <= self.warmup_s:
            return None
        for name in METRICS:
            value = getattr(m, name)
            if value is not None:
                self._seen[name].append(value)
        if running_s < self.warmup_s + self.learn_s:
            return None
        values = {k: float(np.median(v)) for k, v in self._seen.items() if v}
        spread = {
            k: float(np.median(np.abs(np.array(v) - values[k]))) for k, v in self._seen.items() if v
        }
        return Baseline(values, spread)


@dataclass
class Episode:
    """One drift: when it started, how far it went (peak) and when it ended."""

    metric: Metric
    direction: str
    fault: Fault
    baseline: float
    start: float
    value: float
    excess: float
    relative: bool
    peak_t: float = 0.0
    peak_excess: float = 0.0
    end: float | None = None
    id: int = 0  # numbered by the detector, 1, 2, ... within a run

    def to_dict(self) -> dict[str, object]:
        unit = "fraction" if self.relative else self.metric.rsplit("_", 1)[1]
        return {
            "episode": self.id,
            "metric": self.metric,
            "direction": self.direction,
            "fault": self.fault.description,
            "baseline": round(self.baseline, 2),
            "value": round(self.value, 2),
            "excess": round(self.excess, 3),
            "peak_excess": round(self.peak_excess, 3),
            "unit": unit,
            "start": round(self.start, 2),
            "end": None if self.end is None else round(self.end, 2),
        }


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


class DriftDetector:
    """Follows each rule against the baseline for a sensor at one placement."""

    def __init__(self, rules: tuple[DriftRule, ...], baseline: Baseline, placement: Placement):
        self.baseline = baseline
        self.placement = placement
        self._count = 0
        self._rules = [
            (rule, _RuleState())
            for rule in rules
            if placement in rule.faults and rule.metric in baseline.values
        ]

    @property
    def open_episodes(self) -> list[Episode]:
        return [st.episode for _, st in self._rules if st.episode is not None]

    def pause(self) -> None:
        """The runner stopped: sustained means sustained while running, so start again."""
        for _, st in self._rules:
            st.past_since = st.back_since = None

    def update(self, m: WindowMetrics) -> list[DriftChange]:
        changes = []
        for rule, st in self._rules:
            value = getattr(m, rule.metric)
            if value is None:
                continue
            base = self.baseline.values[rule.metric]
            excess = rule.excess(value, base)
            ep = st.episode
            if ep is None:
                st.past_since = _since(st.past_since, m.t, excess >= rule.threshold)
                if st.past_since is not None and m.t - st.past_since >= rule.persist_s:
                    self._count += 1
                    ep = Episode(
                        rule.metric,
                        rule.direction,
                        rule.faults[self.placement],
                        base,
                        m.t,
                        value,
                        excess,
                        rule.relative,
                        peak_t=m.t,
                        peak_excess=excess,
                        id=self._count,
                    )
                    st.episode, st.past_since = ep, None
                    changes.append(DriftChange(ep, started=True))
                continue
            if excess > ep.peak_excess:
                ep.peak_excess, ep.peak_t = excess, m.t
            st.back_since = _since(st.back_since, m.t, excess < rule.clear)
            if st.back_since is not None and m.t - st.back_since >= rule.clear_s:
                ep.end, ep.value, ep.excess = m.t, value, excess
                st.episode, st.back_since = None, None
                changes.append(DriftChange(ep, started=False))
        return changes

    def close(self, t: float) -> list[Episode]:
        """End every open episode at `t` (the run is over)."""
        closed = []
        for _, st in self._rules:
            if st.episode is not None:
                st.episode.end = t
                closed.append(st.episode)
                st.episode = None
        return closed
