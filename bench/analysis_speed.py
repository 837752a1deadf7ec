"""How fast the form analysis is, measured in one run, beside a peer library on the same data.

Prints ratios, not verdicts:
- analysis time over recording time (x real time, one core) for the 25-minute outdoor run:
  accelerometer only at 100 Hz (the real recording), and 6-axis at 100 Hz (the same run
  with made-up gyroscope motion, see companion.lab.synthetic), one and two sensors;
- that the live path stays incremental: the cost of a second of data in the last five
  minutes of the run over the cost in the first five (1.0 = no growth);
- scikit-digital-health's lumbar gait pipeline (GaitLumbar, the peer library for a trunk
  accelerometer) on the same real hip recording: its time, and its cadence per running bout
  against the ankle sensor, beside ours.

Run: .venv/bin/python bench/analysis_speed.py
(the peer needs: .venv/bin/pip install -e '.[bench]')
"""

from __future__ import annotations

import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from companion.form.alignment import estimate_body_frame
from companion.form.analysis import FormAnalysis
from companion.form.trunk import AnalysisSettings, TrunkAnalyzer
from companion.lab.validation import synthetic_pair, trunk_windows
from sensors.recorded.recording import AccelTrack, Recording, load_recording, timed_samples
from sensors.samples import Sample

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "running"
OUTDOOR = DATA / "adept_outdoor_run_hip_ankle_100hz.csv.gz"
BOUTS = DATA / "adept_outdoor_run_bouts_derived.csv"
CHUNK_S = 30.0  # an offline analysis hands over long stretches; results do not depend on it


def best_of(runs: int, work: list[Sample]) -> float:
    """Seconds for the fastest of `runs` passes of the analysis over `work`."""
    best = np.inf
    for _ in range(runs):
        analysis = FormAnalysis(AnalysisSettings(sensor_wait_s=CHUNK_S + 5))
        start = time.perf_counter()
        for sample in work:
            analysis.feed(sample)
        analysis.flush()
        best = min(best, time.perf_counter() - start)
    return best


def samples(recording: Recording) -> list[Sample]:
    return [s for _, s in timed_samples(recording, CHUNK_S)]


def growth(hip: AccelTrack) -> float:
    """Cost of the last five minutes' batches over the first five's, fed as a live run is."""
    analyzer = TrunkAnalyzer(hip.sensor, hip.placement)
    costs = []
    for batch in hip.batches(0.2):
        start = time.perf_counter()
        analyzer.feed(batch)
        costs.append((float(batch.t[-1]), time.perf_counter() - start))
    t, cost = np.array(costs).T
    return float(cost[t > t[-1] - 300].sum() / cost[(t > 60) & (t < 360)].sum())


def peer(hip: AccelTrack) -> tuple[float, dict[int, float]] | None:
    """skdh GaitLumbar: seconds, and its median cadence per bout (by initial contact)."""
    try:
        import skdh
    except ImportError:
        return None
    gait = skdh.gait.GaitLumbar()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gait.predict(time=hip.t + 1.7e9, accel=hip.xyz, fs=hip.rate_hz, height=1.80)
    elapsed = time.perf_counter() - start
    ic = np.asarray(result["IC Timestamp"], dtype=float) - 1.7e9
    cadence = np.asarray(result["cadence"], dtype=float)
    return elapsed, per_bout(ic, cadence)


def bouts() -> list[dict[str, str]]:
    with BOUTS.open() as fh:
        return list(csv.DictReader(fh))


def per_bout(t: np.ndarray, values: np.ndarray) -> dict[int, float]:
    out = {}
    for i, b in enumerate(bouts(), 1):
        inside = (t >= float(b["start_s"]) + 10) & (t <= float(b["end_s"])) & np.isfinite(values)
        if inside.any():
            out[i] = float(np.median(values[inside]))
    return out


def main() -> int:
    threadpool_limits(limits=1, user_api="blas")
    console = Console()
    hip = load_recording(OUTDOOR).track("hip")
    duration = float(hip.t[-1] - hip.t[0])
    sel = (hip.t > 60) & (hip.t < 90)
    pair = synthetic_pair(hip, estimate_body_frame(hip.xyz[sel], hip.rate_hz, 158 / 60))
    pelvis = Recording("pelvis", (pair.accel[0],), gyro=(pair.gyro[0],))

    speed = Table(title="Form analysis speed (one core, best of 3)")
    for column in ("stream", "analysis", "x real time"):
        speed.add_column(column)
    for name, recording in (
        ("hip accelerometer, 100 Hz (real)", Recording("hip", (hip,))),
        ("pelvis accelerometer + gyroscope, 100 Hz (6-axis)", pelvis),
        ("chest and pelvis, 6-axis each, 100 Hz", pair),
    ):
        seconds = best_of(3, samples(recording))
        speed.add_row(name, f"{seconds:.3f} s for {duration:.0f} s", f"{duration / seconds:,.0f}")
    console.print(speed)
    console.print(
        f"Live path, batches of 0.2 s: the last five minutes cost {growth(hip):.2f} times the "
        "first five (1.00 = no growth with the length of the run)."
    )

    ours_start = time.perf_counter()
    windows = trunk_windows(hip)
    ours_s = time.perf_counter() - ours_start
    ours = per_bout(np.array([w[0] for w in windows]), np.array([w[1] for w in windows]))
    theirs = peer(hip)
    table = Table(title="Beside scikit-digital-health GaitLumbar, same hip recording")
    for column in ("", "time", "x real time", "cadence error per bout vs ankle (mean abs)"):
        table.add_column(column)
    truth = {i: float(b["ankle_stride_freq_x2_spm"]) for i, b in enumerate(bouts(), 1)}

    def error(found: dict[int, float]) -> str:
        errs = [abs(found[i] - truth[i]) for i in truth if i in found]
        return f"{np.mean(errs):.2f} spm over {len(errs)} of {len(truth)} bouts"

    table.add_row("ours", f"{ours_s:.2f} s", f"{duration / ours_s:,.0f}", error(ours))
    if theirs is None:
        table.add_row("skdh", "not installed", "", "pip install -e '.[bench]'")
    else:
        table.add_row(
            "skdh", f"{theirs[0]:.2f} s", f"{duration / theirs[0]:,.0f}", error(theirs[1])
        )
    console.print(table)
    if theirs is not None:
        console.print(
            "skdh per bout: "
            + ", ".join(f"{i}: {v:.1f}" for i, v in theirs[1].items())
            + "\nours per bout: "
            + ", ".join(f"{i}: {v:.1f}" for i, v in ours.items())
            + "\nankle per bout: "
            + ", ".join(f"{i}: {v:.1f}" for i, v in truth.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
