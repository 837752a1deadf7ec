"""Step detection and cadence against ground truth on every real recording we have.

- treadmill trials: force-plate contacts (step rate and onsets) per trial;
- outdoor run: the ankle sensor, an independent per-stride reference, window by window.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from companion.form.steps import find_steps, step_frequency
from companion.form.trunk import TrunkAnalyzer, TrunkWindow
from sensors.recorded.recording import AccelTrack, load_recording
from sensors.samples import FloatArray, Placement
from tests.conftest import BOUTS, OUTDOOR, RAW_SAMPLE, TREADMILL, TRIALS, known

Trials = list[tuple[dict[str, str], AccelTrack]]


def vertical(xyz: FloatArray) -> FloatArray:
    mean = xyz.mean(axis=0)
    v: FloatArray = (xyz - mean) @ (mean / np.linalg.norm(mean))
    return v


def trials() -> list[dict[str, str]]:
    with TRIALS.open() as fh:
        return list(csv.DictReader(fh))


def analyse(track: AccelTrack) -> list[TrunkWindow]:
    analyzer = TrunkAnalyzer(track.sensor, track.placement)
    return [w for batch in track.batches(5.0) for w in analyzer.feed(batch)]


@pytest.fixture(scope="module")
def treadmill(running_data: Path) -> Trials:
    return [
        (row, load_recording(TREADMILL, trial=int(row["trial"])).track("sacrum"))
        for row in trials()
    ]


def test_cadence_matches_force_plates_on_every_treadmill_trial(treadmill: Trials) -> None:
    errors = []
    for row, track in treadmill:
        spm = 60 * step_frequency(vertical(track.xyz), track.rate_hz)
        errors.append(spm - float(row["gt_step_freq_spm"]))
    errors_a = np.abs(errors)
    # 25 trials, 167-234 spm, 2.5-4.17 m/s, -5 to +10 degrees of slope; 5 s each.
    assert errors_a.mean() <= 1.0, errors
    assert errors_a.max() <= 2.0, errors


def test_each_force_plate_contact_has_one_detected_step(treadmill: Trials) -> None:
    matched = total = 0
    for row, track in treadmill:
        onsets = np.array([float(x) for x in row["gt_contact_onsets_s"].split(";")])
        v = vertical(track.xyz)
        steps = track.t[find_steps(v, track.rate_hz)]
        assert abs(steps.size - onsets.size) <= 1, row["trial"]
        # The trunk's vertical peak follows touchdown within the stance (0.19-0.26 s).
        for onset in onsets:
            total += 1
            matched += int(np.any((steps > onset) & (steps < onset + 0.2)))
    assert matched / total >= 0.95


def ankle_cadence(track: AccelTrack, end: float, window: float = 10.0) -> float:
    """Two steps per ankle stride: the ankle's own rhythm, from a separate sensor."""
    sel = (track.t > end - window) & (track.t <= end)
    return 120 * step_frequency(vertical(track.xyz[sel]), track.rate_hz, band=(0.9, 2.1))


def test_outdoor_cadence_agrees_with_the_ankle_sensor_window_by_window(running_data: Path) -> None:
    rec = load_recording(OUTDOOR)
    windows = [w for w in analyse(rec.track("hip")) if w.running]
    ankle = rec.track("ankle")
    diffs = np.array([known(w.cadence_spm) - ankle_cadence(ankle, w.t) for w in windows])
    assert len(windows) > 900  # about 17 minutes of running, one window a second
    assert np.median(np.abs(diffs)) <= 0.5
    assert np.mean(np.abs(diffs)) <= 1.0

    with BOUTS.open() as fh:
        bouts = list(csv.DictReader(fh))
    for bout in bouts:
        inside = [
            known(w.cadence_spm)
            for w in windows
            if float(bout["start_s"]) + 10 <= w.t <= float(bout["end_s"])
        ]
        ours = float(np.mean(inside))
        assert ours == pytest.approx(float(bout["ankle_stride_freq_x2_spm"]), abs=2.0), bout


def test_steps_are_counted_once_across_overlapping_windows(running_data: Path) -> None:
    windows = analyse(load_recording(OUTDOOR).track("hip"))
    steps = np.array([step.t for w in windows for step in w.steps])
    # Never the same step twice: no two within half a step (0.17 s even at 175 spm). The
    # hip's broad vertical peak leaves about ±0.05 s of jitter on each step's time.
    assert np.diff(steps).min() >= 0.2
    flags = [w.running for w in windows]
    # The first running window of each bout brings the steps of its whole 10 s.
    starts = sum(1 for a, b in zip([False, *flags], flags, strict=False) if b and not a)
    running_s = sum(flags) + starts * 9.5
    cadence = np.mean([known(w.cadence_spm) for w in windows if w.running])
    # Steps found over the running time match the cadence to within 3 %.
    assert steps.size == pytest.approx(running_s * cadence / 60, rel=0.03)


def test_stops_and_walking_are_not_running(running_data: Path) -> None:
    windows = analyse(load_recording(OUTDOOR).track("hip"))
    with BOUTS.open() as fh:
        bouts = [(float(b["start_s"]), float(b["end_s"])) for b in csv.DictReader(fh)]
    # Running windows lie in the derived bouts (a window ends up to 10 s after a bout).
    outside = [w.t for w in windows if w.running and not any(s <= w.t <= e + 10 for s, e in bouts)]
    assert len(outside) <= 20  # a few seconds of jogging between bouts, at most
    assert all(w.cadence_spm is None or w.cadence_spm >= 130 for w in windows)


def test_unfiltered_512_hz_sample_cadence(running_data: Path) -> None:
    track = load_recording(RAW_SAMPLE, placements={"acc": Placement.PELVIS}).track("acc")
    spm = 60 * step_frequency(vertical(track.xyz), track.rate_hz)
    assert spm == pytest.approx(160.3, abs=2.0)  # PROVENANCE: Welch 160.3, ACF 161.7
