"""A kept run for other programs: a CSV of its seconds (one row a second, for a spreadsheet)
and JSON of everything the history keeps of it. FIT, the activity file Garmin Connect, Strava
and GoldenCheetah take in, is companion/history/fit.py; `companion export` writes them."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from companion.coaching.summary import cue_results
from companion.form.metrics import METRICS, SOURCES
from companion.form.record import Episode, RunInfo, Second, Step
from companion.history.runs import run_dict
from companion.history.store import Store, StoreError

Cue = tuple[float, str, str, str, int | None]


class ExportError(StoreError):
    """The run cannot be exported as asked (its seconds are gone, no file was named)."""


@dataclass(frozen=True)
class RunDetail:
    """Everything the history keeps of one run."""

    run: RunInfo
    seconds: list[Second]
    steps: list[Step]
    baseline: dict[str, tuple[float, float | None]]
    episodes: list[Episode]
    cues: list[Cue]

    @classmethod
    def read(cls, history: Store, run: RunInfo) -> RunDetail:
        return cls(
            run,
            history.seconds(run.id),
            history.steps(run.id),
            history.baseline(run.id),
            history.episodes(run.id),
            history.cues(run.id),
        )


def finite(value: float | None) -> float | None:
    """A value FIT, CSV and JSON can carry: NaN and infinities are not known values."""
    return value if value is not None and math.isfinite(value) else None


# FIT -----------------------------------------------------------------------------------


CSV_COLUMNS = (
    "t_s",
    "time",
    "running",
    "judged",
    "drifting",
    "cadence_spm",
    "speed_mps",
    "distance_m",
    "heart_rate_bpm",
)


def metric_columns(seconds: Sequence[Second]) -> list[str]:
    """Every `source.metric` seen in the run, in the order of `METRICS`, then of the
    sources; any the vocabulary lacks (from a newer release) last, by name."""
    names = list(METRICS)

    def order(key: str) -> tuple[int, int, str]:
        source, _, name = key.partition(".")
        at = names.index(name) if name in names else len(names)
        return at, SOURCES.index(source) if source in SOURCES else len(SOURCES), key

    return sorted({k for s in seconds for k in s.values}, key=order)


def _cell(value: float | None) -> str:
    value = finite(value)
    return "" if value is None else repr(value)  # repr: read back as the very same float


def csv_text(run: RunInfo, seconds: Sequence[Second]) -> str:
    """One row per second; a value not known is an empty cell, a yes or no is 1 or 0."""
    metrics = metric_columns(seconds)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *metrics])
    for s in seconds:
        when = run.started + timedelta(seconds=s.t)
        writer.writerow(
            [
                _cell(s.t),
                when.isoformat(timespec="milliseconds"),
                int(s.running),
                int(s.judged),
                int(s.drifting),
                _cell(s.cadence_spm),
                _cell(s.speed_mps),
                _cell(s.distance_m),
                _cell(s.heart_rate_bpm),
                *(_cell(s.values.get(k)) for k in metrics),
            ]
        )
    return out.getvalue()


def _known(values: dict[str, float]) -> dict[str, float | None]:
    return {k: finite(v) for k, v in values.items()}


def run_json(detail: RunDetail) -> dict[str, Any]:
    """Everything kept of the run, as JSON values (a value not known is null)."""
    answered = cue_results(((t, c, text, ep) for t, c, _, text, ep in detail.cues), detail.episodes)
    corrected = {(r.t, r.cue_id): r.corrected_after_s for r in answered}
    return {
        "format": "posture-companion run",
        "version": 1,
        "run": run_dict(detail.run),
        "baseline": {
            metric: {"value": finite(value), "spread": finite(spread)}
            for metric, (value, spread) in sorted(detail.baseline.items())
        },
        "episodes": [ep.to_dict() for ep in detail.episodes],
        "cues": [
            {
                "t": t,
                "cue": cue,
                "category": category,
                "text": text,
                "episode": episode,
                "corrected_after_s": corrected.get((t, cue)),  # null: not a form cue, or
            }  # its drift lasted to the end of the run
            for t, cue, category, text, episode in detail.cues
        ],
        "seconds": [
            {
                "t": s.t,
                "running": s.running,
                "judged": s.judged,
                "drifting": s.drifting,
                "cadence_spm": finite(s.cadence_spm),
                "speed_mps": finite(s.speed_mps),
                "distance_m": finite(s.distance_m),
                "heart_rate_bpm": finite(s.heart_rate_bpm),
                "values": _known(s.values),
            }
            for s in detail.seconds
        ],
        "steps": [{k: finite(v) for k, v in step._asdict().items()} for step in detail.steps],
    }


def json_text(detail: RunDetail) -> str:
    return json.dumps(run_json(detail), ensure_ascii=False, allow_nan=False) + "\n"


def no_seconds(run: RunInfo) -> str:
    """Why a run has nothing to export, and where its totals still are."""
    why = (
        f"its seconds were dropped on {run.detail_dropped[:10]} "
        "(history.keep_detail_days in the configuration)"
        if run.detail_dropped
        else "it has no seconds kept"
    )
    return (
        f"run {run.id} ({run.name}) cannot be exported: {why}. Its totals are still in "
        f"`companion history --json` and `companion summary {run.id}`."
    )
