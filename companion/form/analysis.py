"""Form analysis of a whole run: every sensor's windows joined into one view per second.

A trunk or pelvis sensor gives its own windows (`trunk`); a footpod gives speed, cadence
and stride length; a chest and a pelvis sensor together give the lumbar arch: the change
of the angle between the chest and the pelvis in the sagittal plane. The pelvis tipping
forward and the ribs flaring up (the chest pitching back) both open it, which is the chain
of faults the coaching knowledge cares most about.

Values are named `source.metric` (`pelvis.bounce_cm`, `footpod.speed_mps`,
`spine.lumbar_arch_deg`), so rules, baselines and tables can speak of any of them.
Pure: samples in, windows out, time is the samples' own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from companion.form.metrics import FOOTPOD, METRICS, SPINE, key
from companion.form.record import Step
from companion.form.trunk import AnalysisSettings, TrunkAnalyzer, TrunkWindow
from sensors.samples import AccelBatch, FootpodSample, GyroBatch, Placement, Sample

TRUNK_METRICS = tuple(f.name for f in fields(TrunkWindow) if f.name in METRICS)


@dataclass(frozen=True)
class FormWindow:
    """Everything known about the runner's form over the window ending at `t`."""

    t: float
    running: bool
    values: dict[str, float] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()  # new steps, from the sensor that leads
    turns: dict[str, float] = field(default_factory=dict)  # source -> forward axis turned by

    def get(self, name: str) -> float | None:
        return self.values.get(name)

    @property
    def cadence_spm(self) -> float | None:
        """From the leading trunk sensor, or the footpod when there is none."""
        for source in (Placement.PELVIS, Placement.CHEST, FOOTPOD):
            value = self.values.get(key(source, "cadence_spm"))
            if value is not None:
                return value
        return None

    @property
    def speed_mps(self) -> float | None:
        return self.values.get(key(FOOTPOD, "speed_mps"))

    def lean_deg(self, placement: Placement) -> float | None:
        return self.values.get(key(placement, "lean_deg"))


class FootpodTrack:
    """Recent footpod readings and what they say over a window."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._samples: deque[FootpodSample] = deque()

    @property
    def last_t(self) -> float | None:
        return self._samples[-1].t if self._samples else None

    def add(self, s: FootpodSample) -> None:
        self._samples.append(s)
        while self._samples and self._samples[0].t < s.t - 2 * self.window_s:
            self._samples.popleft()

    def values(self, end: float) -> dict[str, float]:
        inside = [s for s in self._samples if end - self.window_s < s.t <= end]
        out: dict[str, float] = {}
        speed = [s.speed_mps for s in inside if s.speed_mps is not None]
        cadence = [s.cadence_spm for s in inside if s.cadence_spm is not None]
        stride = [s.stride_m for s in inside if s.stride_m]
        if speed:
            out[key(FOOTPOD, "speed_mps")] = float(np.median(speed))
        if cadence and np.median(cadence) > 0:
            out[key(FOOTPOD, "cadence_spm")] = float(np.median(cadence))
        if stride:
            out[key(FOOTPOD, "stride_m")] = float(np.median(stride))
        elif speed and cadence and np.median(cadence) > 0:
            # Two steps to a stride: distance covered per stride.
            out[key(FOOTPOD, "stride_m")] = float(np.median(speed) * 120 / np.median(cadence))
        return out


class FormAnalysis:
    """Joins the windows of every sensor of a run, second by second.

    A window is given out once every trunk sensor has given its own for that second, or
    once the others have moved `sensor_wait_s` past it (a sensor gone silent delays the rest
    by at most that much). With a footpod only, the footpod alone makes the windows.
    """

    def __init__(self, settings: AnalysisSettings | None = None):
        self.settings = settings or AnalysisSettings()
        self.trunk: dict[str, TrunkAnalyzer] = {}
        self.lead: str | None = None  # the trunk sensor whose steps and running count
        self.footpod = FootpodTrack(self.settings.window_s)
        self._pending: dict[float, dict[str, TrunkWindow]] = {}
        self._heard: dict[str, float] = {}  # sensor -> time of its last window
        self._newest = -np.inf  # the latest sample time from any sensor
        self._footpod_next: float | None = None

    def feed(self, sample: Sample) -> list[FormWindow]:
        if isinstance(sample, FootpodSample):
            self.footpod.add(sample)
            self._newest = max(self._newest, sample.t)
            return self._footpod_only(sample.t) if not self.trunk else self._ready()
        if not isinstance(sample, AccelBatch | GyroBatch) or sample.placement is Placement.OTHER:
            return []
        analyzer = self.trunk.get(sample.sensor)
        if analyzer is None:
            analyzer = self.trunk[sample.sensor] = TrunkAnalyzer(
                sample.sensor, sample.placement, self.settings
            )
            self.lead = self.lead or sample.sensor
        windows = (
            analyzer.feed_gyro(sample) if isinstance(sample, GyroBatch) else analyzer.feed(sample)
        )
        for w in windows:
            self._pending.setdefault(w.t, {})[w.sensor] = w
            self._heard[w.sensor] = w.t
        if sample.t.size and isinstance(sample, AccelBatch):
            self._newest = max(self._newest, float(sample.t[-1]))
        return self._ready()

    def relearn_frame(self, source: str, t: float) -> None:
        """The sensors at `source` (a placement) moved on the body at `t`."""
        for analyzer in self.trunk.values():
            if analyzer.placement.value == source:
                analyzer.relearn_frame(t)

    def flush(self) -> list[FormWindow]:
        """The run is over: give out whatever is still waiting."""
        for analyzer in self.trunk.values():
            for w in analyzer.flush():
                self._pending.setdefault(w.t, {})[w.sensor] = w
        return [self._join(t) for t in sorted(self._pending)]

    def _ready(self) -> list[FormWindow]:
        out = []
        for t in sorted(self._pending):
            waiting = any(self._heard.get(s, -np.inf) < t for s in self.trunk)
            if waiting and self._newest < t + self.settings.sensor_wait_s:
                break
            out.append(self._join(t))
        return out

    def _join(self, t: float) -> FormWindow:
        windows = self._pending.pop(t)
        lead = windows.get(self.lead or "") or next(iter(windows.values()))
        values = self.footpod.values(t)
        by_place: dict[Placement, TrunkWindow] = {}
        turns: dict[str, float] = {}
        for w in windows.values():
            if not w.running or w.placement in by_place:
                continue  # one sensor per placement: the first one heard
            by_place[w.placement] = w
            if w.forward_turn_deg is not None:
                turns[w.placement.value] = w.forward_turn_deg
            for name in TRUNK_METRICS:
                value = getattr(w, name)
                if value is not None:
                    values[key(w.placement, name)] = value
        chest, pelvis = by_place.get(Placement.CHEST), by_place.get(Placement.PELVIS)
        if chest and pelvis and chest.lean_deg is not None and pelvis.lean_deg is not None:
            values[key(SPINE, "lumbar_arch_deg")] = pelvis.lean_deg - chest.lean_deg
        return FormWindow(
            t=t,
            running=lead.running,
            values=values,
            steps=lead.steps if lead.running else (),
            turns=turns,
        )

    def _footpod_only(self, now: float) -> list[FormWindow]:
        hop = self.settings.hop_s
        if self._footpod_next is None:
            self._footpod_next = float(np.ceil(now / hop) * hop)
        out = []
        while self._footpod_next <= now:
            t = self._footpod_next
            values = self.footpod.values(t)
            cadence = values.get(key(FOOTPOD, "cadence_spm"), 0.0)
            running = cadence >= self.settings.min_running_spm
            out.append(FormWindow(t=t, running=running, values=values if running else {}))
            self._footpod_next += hop
        return out
