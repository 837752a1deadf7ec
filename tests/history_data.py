"""A small history of real runs for the history, report and export tests: the bundled run
with its injected fault on two days, and the unaltered outdoor run between them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from companion.coaching.engine import EngineSettings
from companion.form.record import RunInfo
from companion.form.rules import load_rules
from companion.form.trunk import AnalysisSettings
from companion.history.importer import import_run
from companion.run.demo import demo_recording
from cues.catalogue import load_catalogue
from sensors.recorded.recording import Recording, load_recording, timed_samples
from sensors.samples import Placement
from tests.conftest import OUTDOOR

FIRST = datetime.fromisoformat("2026-11-02T07:30:00+01:00")
SETTINGS = EngineSettings(analysis=replace(AnalysisSettings(), sensor_wait_s=15.0))


def keep(db: Path, recording: Recording, started: datetime) -> RunInfo:
    """`recording` analysed and kept in the history at `db`, as run at `started`."""
    samples = (s for _, s in timed_samples(recording, 10.0))
    return import_run(
        db, recording.name, samples, load_catalogue(), load_rules(), SETTINGS, started
    )


def build(db: Path) -> list[RunInfo]:
    """Three runs, oldest first: the demo run, the unaltered run, the demo run again."""
    faulty, _ = demo_recording()
    places = {"ankle": Placement.OTHER, "hip": Placement.PELVIS}
    clean = load_recording(OUTDOOR, placements=places)
    return [
        keep(db, faulty, FIRST),
        keep(db, clean, FIRST + timedelta(days=3)),
        keep(db, faulty, FIRST + timedelta(days=8)),
    ]


def copy_to(built: Path, data_home: Path) -> Path:
    """The built history where `companion` finds it under XDG_DATA_HOME `data_home` (each
    test's is its tmp_path / "data")."""
    target = data_home / "posture-companion" / "history.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy(built, target)
    return target
