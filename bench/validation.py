"""The validation table of the form analysis, per recording (see companion/lab/validation.py).

- cadence against ground truth: force-plate step rate per treadmill trial, the ankle sensor
  window by window outdoors (goal: mean absolute error at most 1 step/min);
- ground contact time against the force plates (published trunk figure: about 20 ms);
- detection delay of drifts injected into the real outdoor run, four kinds at 1.5 and 2.5
  times their threshold, in two bouts (goal: median at most 30 s after the drift reaches
  its threshold size);
- false drift episodes on the unaltered run (goal: at most 1 per hour of running);
- the same two for made-up chest and pelvis sensors with gyroscopes (test motion on the real
  run: the test data has no chest recording and no gyroscope).

Run: .venv/bin/python bench/validation.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from companion.form.alignment import estimate_body_frame
from companion.form.steps import step_frequency
from companion.lab.validation import (
    Check,
    Detection,
    cadence_against_ankle,
    cadence_on_treadmill,
    contact_on_treadmill,
    detect,
    detect_synthetic,
    engine_episodes,
    forward_axis_of,
    synthetic_pair,
    vertical,
)
from sensors.recorded.recording import load_recording

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "running"
OUTDOOR = DATA / "adept_outdoor_run_hip_ankle_100hz.csv.gz"
TREADMILL = DATA / "alcantara_sacrum_grf_treadmill_500hz.csv.gz"
TRIALS = DATA / "alcantara_sacrum_grf_trials.csv"
RAW_SAMPLE = DATA / "alcantara_sacrum_raw_sample_512hz.csv.gz"


def check_row(table: Table, what: str, check: Check, unit: str, goal: float) -> None:
    met = "met" if check.mae <= goal else "MISSED"
    table.add_row(
        check.recording,
        what,
        check.reference,
        str(check.compared),
        f"{check.mae:.2f} {unit}",
        f"{check.worst:.2f} {unit}",
        f"≤ {goal:g} {unit}: {met}",
    )


def delay_table(title: str, found: list[Detection]) -> tuple[Table, float, int]:
    table = Table(title=title)
    for column in ("kind", "size", "bout at", "delay", "also found"):
        table.add_column(column)
    for d in found:
        inj = d.injection
        table.add_row(
            inj.kind,
            f"{inj.size:g}x threshold",
            f"{inj.fault.start_s:.0f} s",
            "missed" if d.delay_s is None else f"{d.delay_s:.0f} s",
            ", ".join(d.others),
        )
    delays = [d.delay_s for d in found if d.delay_s is not None]
    median = float(np.median(delays + [np.inf] * (len(found) - len(delays))))
    return table, median, len(delays)


def main() -> int:
    threadpool_limits(limits=1, user_api="blas")
    console = Console(width=110)
    accuracy = Table(title="Accuracy against ground truth")
    for column in ("recording", "measure", "reference", "n", "mean abs error", "worst", "goal"):
        accuracy.add_column(column)
    check_row(accuracy, "cadence", cadence_on_treadmill(TREADMILL, TRIALS), "spm", 1.0)
    check_row(accuracy, "cadence", cadence_against_ankle(OUTDOOR), "spm", 1.0)
    check_row(accuracy, "contact time", contact_on_treadmill(TREADMILL, TRIALS), "ms", 20.0)
    console.print(accuracy)
    sample = load_recording(RAW_SAMPLE).track("acc")
    spm = 60 * step_frequency(vertical(sample.xyz), sample.rate_hz)
    console.print(
        f"{RAW_SAMPLE.name}: no ground truth; our cadence {spm:.1f} spm, where its provenance "
        "notes 160.3 (Welch) and 161.7 (autocorrelation)."
    )

    hip = load_recording(OUTDOOR).track("hip")
    summary = Table(title="Drift detection per recording")
    for column in ("recording", "false episodes", "judged running", "per hour", "delay median",
                   "found", "goals (≤ 1/h, ≤ 30 s)"):  # fmt: skip
        summary.add_column(column)

    real, median, hits = delay_table(
        "Drifts injected into the real outdoor run", detect(hip, forward_axis_of(hip))
    )
    console.print(real)
    episodes, judged = engine_episodes(hip)
    rate = len(episodes) / (judged / 3600)
    summary.add_row(
        OUTDOOR.name, str(len(episodes)), f"{judged / 60:.1f} min", f"{rate:.1f}",
        f"{median:.1f} s", f"{hits} of {len(real.rows)}",
        "met" if rate <= 1 and median <= 30 else "MISSED",
    )  # fmt: skip

    sel = (hip.t > 60) & (hip.t < 90)
    frame = estimate_body_frame(hip.xyz[sel], hip.rate_hz, 158 / 60)
    made_up, median, hits = delay_table(
        "Made-up chest and pelvis sensors with gyroscopes (test motion on the real run)",
        detect_synthetic(hip, frame),
    )
    console.print(made_up)
    episodes, judged = engine_episodes(synthetic_pair(hip, frame))
    rate = len(episodes) / (judged / 3600)
    summary.add_row(
        "made-up chest + pelvis (test motion)", str(len(episodes)), f"{judged / 60:.1f} min",
        f"{rate:.1f}", f"{median:.1f} s", f"{hits} of {len(made_up.rows)}",
        "met" if rate <= 1 and median <= 30 else "MISSED",
    )  # fmt: skip
    summary.add_row(
        TREADMILL.name, "", "5 s trials", "", "", "",
        "too short for a baseline: cadence and contact only",
    )  # fmt: skip
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
