"""The kept runs as the commands read them: the history opened with what a killed process
left closed first, a kept run's summary said again, a run as plain values (JSON), and the
runner's own pace slopes for the next run."""

from __future__ import annotations

import logging
import sqlite3

from companion import paths
from companion.coaching.summary import spoken_summary, stats_of
from companion.form import pace
from companion.form.record import RunInfo
from companion.form.rules import DriftRule
from companion.history.recorder import recover
from companion.history.store import Store, StoreError

log = logging.getLogger(__name__)


def open_history() -> Store:
    """The history, with runs a killed process left closed first (each said in the log).
    Retention is not applied here: it changes the history (`companion.history.retention`)."""
    db = paths.history_db()
    recover(db)
    return Store(db)


def runner_slopes(rules: tuple[DriftRule, ...]) -> dict[str, float]:
    """The runner's own change of form per m/s, from the runs kept (see
    `companion.form.pace`); none without a history, or when it cannot be read (said in the
    log: the run goes on with the rules' own)."""
    db = paths.history_db()
    if not db.exists():
        return {}
    try:
        with Store(db) as history:
            runs = history.pace_sums()
    except (StoreError, sqlite3.Error) as err:
        log.warning("your own pace slopes cannot be read from the history (%s)", err)
        return {}
    return pace.runner_slopes(runs, pace.paced_metrics(rules))


def run_dict(r: RunInfo) -> dict[str, object]:
    return {
        "id": r.id,
        "name": r.name,
        "started": r.started.isoformat(),
        "source": r.source,
        "kind": r.kind,
        "state": r.state,
        "duration_s": r.duration_s,
        "running_s": r.running_s,
        "distance_m": r.distance_m,
        "cadence_spm": r.cadence_spm,
        "heart_rate_bpm": r.heart_rate_bpm,
        "judged_s": r.judged_s,
        "held_s": r.held_s,
        "form_held": r.form_held,
        "drift_onset_s": r.drift_onset_s,
        "drifts": r.drifts,
        "cues": r.cues,
        "form_cues": r.form_cues,
        "summary": r.summary,
        "sensors": list(r.sensors),
        "files": r.files,
        "detail_dropped": r.detail_dropped,
        "content": r.content,
    }


def summary_of(history: Store, run: RunInfo) -> str:
    """The summary of a kept run, said as after it, compared with the runs before it."""
    stats = stats_of(history.seconds(run.id), history.episodes(run.id), history.cues(run.id))
    if not stats.duration_s and run.summary:
        return run.summary  # retention dropped its seconds: the words said then
    return spoken_summary(stats, history.earlier(run), run.started)
