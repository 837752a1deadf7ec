"""The kept runs as the commands read them: the history opened with what a killed process
left closed first, a kept run's summary said again, and a run as plain values (JSON)."""

from __future__ import annotations

from companion import paths
from companion.coaching.summary import spoken_summary, stats_of
from companion.form.record import RunInfo
from companion.history.recorder import recover
from companion.history.store import Store


def open_history() -> Store:
    """The history, with runs a killed process left closed first (each said in the log).
    Retention is not applied here: it changes the history (`companion.history.retention`)."""
    db = paths.history_db()
    recover(db)
    return Store(db)


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
