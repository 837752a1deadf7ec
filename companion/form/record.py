"""What the history keeps of each second and each step of a run, as the engine judged them.

Plain records, light to import: the store reads and writes them without the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from companion.form.metrics import METRICS
from cues.faults import Fault


class Step(NamedTuple):
    """One step: when it landed, and what it measured (None where it could not be told)."""

    t: float
    interval_s: float | None = None  # since the step before
    bounce_cm: float | None = None
    braking_g: float | None = None
    contact_ms: float | None = None


@dataclass(frozen=True)
class Second:
    """One second of a run (the window ending at `t`) and what the engine made of it."""

    t: float
    running: bool  # counted as running time (moving, and the run not paused by the runner)
    judged: bool = False  # counted towards form held: running after the baseline
    drifting: bool = False  # a drift was open
    cadence_spm: float | None = None
    speed_mps: float | None = None
    distance_m: float | None = None  # since the run began, by the footpod
    heart_rate_bpm: float | None = None
    values: dict[str, float] = field(default_factory=dict)  # every metric, `source.metric`
    steps: tuple[Step, ...] = ()


@dataclass
class Episode:
    """One drift: when it started, how far it went (peak) and when it ended."""

    metric: str  # source.metric
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
    ran_out: bool = False  # ended by the end of the run, not by form coming back
    moved: bool = False  # ended because the sensor moved on the body: not the runner's

    def to_dict(self) -> dict[str, object]:
        source, name = self.metric.split(".", 1)
        unit = "fraction" if self.relative else METRICS[name].unit
        return {
            "episode": self.id,
            "metric": name,
            "source": source,
            "direction": self.direction,
            "fault": self.fault.description,
            "baseline": round(self.baseline, 2),
            "value": round(self.value, 2),
            "excess": round(self.excess, 3),
            "peak_excess": round(self.peak_excess, 3),
            "peak_t": round(self.peak_t, 2),
            "unit": unit,
            "start": round(self.start, 2),
            "end": None if self.end is None else round(self.end, 2),
            "ran_out": self.ran_out,
            "moved": self.moved,
        }


@dataclass(frozen=True)
class RunInfo:
    """A run in the history: what it was and its totals (None while it is being recorded)."""

    id: int
    name: str  # run-<date>-<time>, shared with its files in the runs folder
    started: datetime
    source: str
    kind: str  # "live", "replay" or "import"
    state: str  # "recording", "finished" or "recovered"
    duration_s: float | None = None
    running_s: float | None = None
    judged_s: float | None = None
    held_s: float | None = None
    distance_m: float | None = None
    cadence_spm: float | None = None
    heart_rate_bpm: float | None = None
    cues: int | None = None
    form_cues: int | None = None
    drift_onset_s: float | None = None  # when the first drift began
    drifts: int | None = None
    summary: str | None = None
    sensors: tuple[dict[str, Any], ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # events, raw_log
    detail_dropped: str | None = None  # when retention dropped its seconds, steps and raw data
    content: str | None = None  # the recording it was kept from (store.content_of)

    @property
    def form_held(self) -> float | None:
        if not self.judged_s or self.held_s is None:
            return None
        return self.held_s / self.judged_s
