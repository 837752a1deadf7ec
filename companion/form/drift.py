"""Baseline and drift: the runner's own form from the early minutes, and sustained moves away.

A pure state machine fed with form windows. A drift episode starts once a metric has
stayed past its threshold for `persist_s` seconds of running, and ends once it has stayed
back within the (smaller) `clear` band for `clear_s` seconds: a persistence window with
hysteresis, so a short wobble or a hill crest does not start or end one.

Where a footpod gives the speed, each metric is compared with what the baseline says it
would be at the current speed (`per_mps` in the rules), so a deliberate change of pace is
not taken for drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from companion.form.metrics import FOOTPOD, METRICS, SOURCES, key
from companion.form.record import Episode
from cues.datafile import DataFileError, load_entries
from cues.faults import Fault

if TYPE_CHECKING:
    from companion.form.analysis import (
        FormWindow,  # the analysis (scipy) is not needed to read rules
    )

DEFAULT_RULES = Path(__file__).with_name("drift_rules.toml")
SPEED = key(FOOTPOD, "speed_mps")


class DriftRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    metric: str
    direction: Literal["above", "below"]
    threshold: float = Field(gt=0)
    clear: float = Field(ge=0)
    relative: bool = False
    per_mps: float = 0.0  # change of the metric per m/s faster, in the threshold's unit
    persist_s: float = Field(default=20.0, ge=0)
    clear_s: float = Field(default=10.0, ge=0)
    faults: dict[str, Fault]

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
        return metric

    @field_validator("faults")
    @classmethod
    def _known_sources(cls, faults: dict[str, Fault]) -> dict[str, Fault]:
        unknown = set(faults) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown source {sorted(unknown)} (known: {', '.join(SOURCES)})")
        return faults

    @model_validator(mode="after")
    def _hysteresis(self) -> DriftRule:
        if self.clear >= self.threshold:
            raise ValueError(f"clear ({self.clear}) must be below threshold ({self.threshold})")
        return self

    def expected(self, base: float, base_speed: float | None, speed: float | None) -> float:
        """The baseline value at the current speed (the baseline itself without speeds)."""
        if base_speed is None or speed is None or not self.per_mps:
            return base
        change = self.per_mps * (speed - base_speed)
        return base * (1 + change) if self.relative else base + change

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


class DriftDetector:
    """Follows each rule, for each source it names, against the runner's baseline."""

    def __init__(self, rules: tuple[DriftRule, ...], baseline: Baseline):
        self.baseline = baseline
        self._count = 0
        self._rules = [
            (rule, source, key(source, rule.metric), _RuleState())
            for rule in rules
            for source in rule.faults
            if key(source, rule.metric) in baseline.values
        ]

    @property
    def open_episodes(self) -> list[Episode]:
        return [st.episode for *_, st in self._rules if st.episode is not None]

    def pause(self) -> None:
        """The runner stopped: sustained means sustained while running, so start again."""
        for *_, st in self._rules:
            st.past_since = st.back_since = None

    def update(self, w: FormWindow) -> list[DriftChange]:
        changes = []
        speed = w.speed_mps
        for rule, source, name, st in self._rules:
            value = w.values.get(name)
            if value is None:
                continue
            base = rule.expected(self.baseline.values[name], self.baseline.speed_mps, speed)
            excess = rule.excess(value, base)
            ep = st.episode
            if ep is None:
                st.past_since = _since(st.past_since, w.t, excess >= rule.threshold)
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
