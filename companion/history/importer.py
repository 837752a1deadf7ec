"""`companion import`: a recording analysed as fast as the machine goes and kept in the
history as a run, as if it had been coached (the cues it would have heard included).

The same engine and the same recorder as a coached run: only the clock (none) and the
voice (none) differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from companion.coaching.engine import EngineSettings, RunEngine
from companion.coaching.events import RunStarted, Summary
from companion.coaching.summary import spoken_summary
from companion.form.record import RunInfo
from companion.form.rules import DriftRule
from companion.history.recorder import NewRun, RunRecorder
from companion.history.store import RAW_MAGIC, ImportRefused, Store
from cues.catalogue import Catalogue
from sensors.samples import AccelBatch, GyroBatch, Sample

IMPORT_COMMIT_S = 300.0  # of the run: an import cut short is simply done again


def import_run(
    db: Path,
    source: str,
    samples: Iterable[Sample],
    catalogue: Catalogue,
    rules: tuple[DriftRule, ...],
    settings: EngineSettings,
    started: datetime,
    raw_log: bytes | None = None,
    files: dict[str, str] | None = None,
    content: str | None = None,
) -> RunInfo:
    """Keep the run `samples` make in the history at `db`; the run kept. `AlreadyKept`
    when the recording `content` identifies is kept already, `ImportRefused` when it holds
    nothing to keep."""
    engine = RunEngine(catalogue, rules, settings)
    name = f"run-{started.strftime('%Y%m%d-%H%M%S')}"
    sensors: dict[str, str] = {}
    new = NewRun(name, started, source, "import", files or {}, content)
    with RunRecorder(db, new, commit_every_s=IMPORT_COMMIT_S) as recorder:
        engine.on_second = recorder.second
        for event in engine.start():
            recorder.show(event)
        for sample in samples:
            if isinstance(sample, AccelBatch | GyroBatch):
                sensors.setdefault(sample.sensor, sample.placement.value)
            for event in engine.feed(sample):
                recorder.show(event)
        recorder.show(
            RunStarted(
                t=0.0,
                source=source,
                sensor=", ".join(sensors) or "none",
                placement=", ".join(sensors.values()) or "none",
            )
        )
        end = engine.now  # the latest sample's time
        events, stats = engine.finish(end)
        for event in events:
            recorder.show(event)
        text = spoken_summary(stats, recorder.earlier, started)
        recorder.show(Summary(t=stats.duration_s, text=text, stats=stats.to_dict()))
        if raw_log is not None:
            recorder.raw(raw_log[len(RAW_MAGIC) :])
        run_id = recorder.id
    if not recorder.kept:
        what = f"in its {end:.0f} s " if end >= 0.5 else ""
        raise ImportRefused(
            f"{source}: no data {what}the coach can use (no movement it can analyse, no "
            "heart rate, no distance), so nothing was kept"
        )
    with Store(db) as history:
        return history.run(run_id)
