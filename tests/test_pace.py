"""The runner's own pace slopes: fitted within each run, pooled over runs, kept in the
history, and used by the next run's coach instead of the rules' one-subject figures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from companion import paths
from companion.form.analysis import FormWindow
from companion.form.drift import Baseline, DriftDetector
from companion.form.pace import PaceSums, pace_sums, paced_metrics, runner_slopes
from companion.form.record import Second
from companion.form.rules import load_rules
from companion.history.importer import import_run
from companion.history.runs import runner_slopes as kept_slopes
from companion.history.store import Store
from companion.lab.confounds import footpod_readings, joined, load_trials, looped
from cues.catalogue import load_catalogue
from sensors.recorded.recording import Recording, timed_samples
from tests.conftest import TREADMILL, TRIALS
from tests.history_data import SETTINGS

RULES = load_rules()
RELATIVE = paced_metrics(RULES)


def seconds(speeds: list[float], cadence_per_mps: float, offset: float = 0.0) -> list[Second]:
    """A run's judged seconds whose cadence moves `cadence_per_mps` (a share) per m/s."""
    return [
        Second(
            t=float(i),
            running=True,
            judged=True,
            values={
                "footpod.speed_mps": v,
                "pelvis.cadence_spm": 170.0 * (1 + cadence_per_mps * (v - 3.0)) + offset,
            },
        )
        for i, v in enumerate(speeds)
    ]


def test_a_slope_is_fitted_within_runs_and_pooled_over_them() -> None:
    rng = np.random.default_rng(1)
    varied = list(3.0 + 0.4 * np.sin(np.arange(400) / 30) + 0.02 * rng.standard_normal(400))
    # Two runs on two days: one faster and with a higher cadence throughout. Within each,
    # the cadence moves 5 % a m/s; across them the day's own level must not count.
    runs = [
        pace_sums(seconds(varied, 0.05)),
        pace_sums(seconds([v + 0.5 for v in varied], 0.05, offset=12.0)),
    ]
    slopes = runner_slopes(runs, RELATIVE)
    assert slopes["pelvis.cadence_spm"] == pytest.approx(0.05, rel=0.08)
    # Too little running, or a steady pace, tells nothing.
    assert runner_slopes(runs[:1], RELATIVE) == {}  # 400 s
    steady = pace_sums(seconds([3.0 + 0.01 * (i % 3) for i in range(900)], 0.05))
    assert runner_slopes([steady], RELATIVE) == {}
    # Seconds not judged, drifting or without a speed are left out.
    odd = [Second(t=0, running=True, judged=True, drifting=True, values={"footpod.speed_mps": 9.0})]
    assert pace_sums(odd) == {} and PaceSums().spread == 0.0


def test_the_runners_own_slope_decides_what_a_pace_change_is() -> None:
    base = Baseline(
        values={"footpod.speed_mps": 3.0, "pelvis.cadence_spm": 170.0, "pelvis.braking_g": 0.8},
        spread={},
        speed_mps=3.0,
    )

    def braking_drifts(slopes: dict[str, float]) -> list[str]:
        det = DriftDetector(RULES, base, slopes=slopes)
        started = []
        for t in range(60):  # 1 m/s faster, braking 40 % harder
            values = {
                "footpod.speed_mps": 4.0,
                "pelvis.cadence_spm": 184.0,
                "pelvis.braking_g": 1.12,
            }
            w = FormWindow(t=float(t), running=True, values=values)
            started += [c.episode.metric for c in det.update(w) if c.started]
        return started

    assert braking_drifts({}) == ["pelvis.braking_g"]  # the rules' 9 % a m/s
    assert braking_drifts({"pelvis.braking_g": 0.35}) == []  # this runner: 35 % a m/s


def test_a_run_kept_in_the_history_teaches_the_next_its_slopes(running_data: Path) -> None:
    # Real strides with a footpod: the level trials at 3.33, 2.5 and 4.17 m/s in turn, after
    # the baseline at 3.33.
    trials = load_trials(TREADMILL, TRIALS)
    plan = [(trials[4], 0.0, 200.0)]
    track = looped(trials[4], 200.0)
    t = 200.0
    for n in (3, 4, 7, 4) * 2:
        track = joined(track, looped(trials[n], 90.0, t))
        plan.append((trials[n], t, t + 90.0))
        t += 90.0
    recording = Recording("pace changes", (track,), footpod=footpod_readings(plan))
    db = paths.history_db()
    assert kept_slopes(RULES) == {}  # no history yet: and none is made by asking
    assert not db.exists()
    samples = (s for _, s in timed_samples(recording, 10.0))
    run = import_run(
        db, "pace changes", samples, load_catalogue(), RULES, SETTINGS,
        datetime.fromisoformat("2026-12-01T07:00:00+01:00"),
    )  # fmt: skip
    with Store(db) as history:
        (sums,) = history.pace_sums()
    assert run.kind == "import" and sums["pelvis.cadence_spm"].n > 600
    slopes = kept_slopes(RULES)
    # The treadmill trials' own: cadence about 9 % and braking about 11 % per m/s.
    assert 0.06 < slopes["pelvis.cadence_spm"] < 0.12
    assert 0.05 < slopes["pelvis.braking_g"] < 0.2
    assert "footpod.cadence_spm" in slopes and "pelvis.lean_deg" in slopes
