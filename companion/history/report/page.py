"""What the report of one run shows, gathered from the history alone (`gather`): the run's
seconds, baseline, drifts and cues, and the totals of the runs before it for the trends
(the `run` table only, so a year of runs stays quick)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from companion.coaching.spoken import duration_clock
from companion.coaching.summary import CueResult, cue_results
from companion.form.metrics import METRICS
from companion.form.record import Episode, RunInfo, Second
from cues.faults import Fault

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from companion.form.rules import DriftRule
    from companion.history.store import Store

    Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CueRow:
    """A cue said during the run; form cues are numbered 1, 2, ... as on the figure."""

    t: float
    cue_id: str
    category: str
    text: str
    number: int | None = None
    result: CueResult | None = None  # a form cue's drift, and how soon it ended

    @property
    def answered(self) -> str:
        """What became of the drift a form cue answered, in words ("" for other cues)."""
        if self.result is None:
            return ""
        fault = Fault(self.result.fault).description
        after = self.result.corrected_after_s
        if after is None:
            return f"{fault}: still there when the run ended"
        return f"{fault}: ended {duration_clock(after)} later"


@dataclass(frozen=True)
class MetricPanel:
    """One metric over the run, against the runner's baseline and the drift thresholds."""

    key: str  # source.metric
    title: str  # "Forward lean (pelvis)"
    unit: str
    minutes: Floats
    values: Floats  # NaN where nothing was measured (stopped)
    centre: Floats | None  # the baseline, at the speed run with a footpod; None: not learned
    low: Floats | None  # the band within which no drift starts
    high: Floats | None
    watched: frozenset[str]  # "above", "below": the band's edges that start a drift
    episodes: tuple[Episode, ...]


@dataclass(frozen=True)
class Report:
    run: RunInfo
    summary: str
    seconds: tuple[Second, ...]
    panels: tuple[MetricPanel, ...]
    episodes: tuple[Episode, ...]
    cues: tuple[CueRow, ...]
    trend: tuple[RunInfo, ...]  # the runs up to and including this one, oldest first

    @property
    def end_s(self) -> float:
        last = self.seconds[-1].t if self.seconds else 0.0
        return max(last, self.run.duration_s or 0.0)


def run_title(run: RunInfo) -> str:
    when = run.started
    return f"Run of {when:%A} {when.day} {when:%B %Y, %H:%M}"


def facts(run: RunInfo) -> list[str]:
    """The run's totals for the header, those known: time, distance, pace, cadence, ..."""
    out = []
    if run.duration_s is not None:
        out.append(f"{duration_clock(run.duration_s)} run")
    if run.distance_m:
        out.append(f"{run.distance_m / 1000:.2f} km")
        if run.running_s:
            out.append(f"{duration_clock(run.running_s * 1000 / run.distance_m)} /km")
    if run.cadence_spm:
        out.append(f"cadence {run.cadence_spm:.0f} steps/min")
    if run.heart_rate_bpm:
        out.append(f"heart rate {run.heart_rate_bpm:.0f}")
    held = run.form_held
    if held is not None and run.held_s is not None and run.judged_s is not None:
        out.append(f"form held {run.held_s / 60:.0f} of {run.judged_s / 60:.0f} min ({held:.0%})")
    if run.drifts:
        onset = run.drift_onset_s or 0.0
        out.append(f"{run.drifts} drift{'s' * (run.drifts > 1)} from minute {onset / 60:.0f}")
    if run.form_cues:
        out.append(f"{run.form_cues} form cue{'s' * (run.form_cues > 1)}")
    return out


def _rules_for(key: str, rules: tuple[DriftRule, ...]) -> list[DriftRule]:
    source, metric = key.split(".", 1)
    return [r for r in rules if r.metric == metric and source in r.faults]


def _band_edge(centre: Floats, rule: DriftRule, sign: int) -> Floats:
    if rule.relative:
        return centre * (1 + sign * rule.threshold)
    return centre + sign * rule.threshold


def metric_panels(
    seconds: tuple[Second, ...],
    baseline: Mapping[str, tuple[float, float | None]],
    episodes: tuple[Episode, ...],
    rules: tuple[DriftRule, ...],
) -> tuple[MetricPanel, ...]:
    """A panel for each metric a drift rule watches that the run measured, in the rules'
    order. The band is the baseline ± the threshold (the watched side's rule where there
    is one each way); with a footpod the baseline follows the speed, as the detector's."""
    import numpy as np

    from companion.form.drift import SPEED

    keys = {k for s in seconds for k in s.values}
    watched = [f"{src}.{r.metric}" for r in rules for src in r.faults]
    minutes = np.array([s.t / 60 for s in seconds])
    speeds = np.array([np.nan if s.speed_mps is None else s.speed_mps for s in seconds])
    base_speed = baseline.get(SPEED, (None, None))[0]
    panels = []
    for key in dict.fromkeys(k for k in watched if k in keys):
        source, metric = key.split(".", 1)
        info = METRICS[metric]
        own = _rules_for(key, rules)
        values = np.array([s.values.get(key, np.nan) for s in seconds], dtype=float)
        centre = low = high = None
        if key in baseline:
            base, rule = baseline[key][0], own[0]
            centre = np.array(
                [rule.expected(base, base_speed, None if np.isnan(v) else v) for v in speeds]
            )
            by_side = {r.direction: r for r in own}
            high = _band_edge(centre, by_side.get("above", rule), +1)
            low = _band_edge(centre, by_side.get("below", rule), -1)
        panels.append(
            MetricPanel(
                key,
                f"{info.label[0].upper()}{info.label[1:]} ({source})",
                info.unit,
                minutes,
                values,
                centre,
                low,
                high,
                frozenset(r.direction for r in own),
                tuple(ep for ep in episodes if ep.metric == key),
            )
        )
    return tuple(panels)


def _cue_rows(
    cues: list[tuple[float, str, str, str, int | None]], episodes: tuple[Episode, ...]
) -> tuple[CueRow, ...]:
    rows, number = [], 0
    for t, cue_id, category, text, episode in cues:
        result = next(iter(cue_results([(t, cue_id, text, episode)], episodes)), None)
        if category == "form":
            number += 1
        rows.append(
            CueRow(t, cue_id, category, text, number if category == "form" else None, result)
        )
    return tuple(rows)


def gather(history: Store, run: RunInfo, rules: tuple[DriftRule, ...]) -> Report:
    """Everything the report of `run` shows, read from `history`."""
    from companion.history.runs import summary_of
    from companion.history.store import alike

    seconds = tuple(history.seconds(run.id))
    episodes = tuple(history.episodes(run.id))
    # Its trends: the runs like it (store.alike), newest first; their totals only.
    runs = [r for r in history.runs() if r.id == run.id or r.kind in alike(run.kind)]
    at = next(i for i, r in enumerate(runs) if r.id == run.id)
    return Report(
        run,
        summary_of(history, run),
        seconds,
        metric_panels(seconds, history.baseline(run.id), episodes, rules),
        episodes,
        _cue_rows(history.cues(run.id), episodes),
        tuple(reversed(runs[at:])),
    )
