"""The form analysis: per-step metrics, gyroscope angles, two sensors, the footpod.

Where the shared data cannot show something (a chest sensor, a gyroscope, two sensors at
once) the test motion is made up with known angles on top of the real run (`synthetic`),
and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from companion.coaching.engine import RunEngine
from companion.form.alignment import BodyFrame, estimate_body_frame
from companion.form.analysis import FormAnalysis, FormWindow
from companion.form.drift import Baseline, DriftDetector
from companion.form.record import Second
from companion.form.rules import load_rules
from companion.form.trunk import AnalysisSettings, TrunkAnalyzer, TrunkWindow
from companion.lab.synthetic import Ramp
from companion.lab.validation import CHEST, PELVIS, synthetic_pair
from cues.catalogue import load_catalogue
from cues.faults import Fault
from sensors.recorded.recording import (
    AccelTrack,
    GyroTrack,
    Recording,
    load_recording,
    timed_samples,
)
from sensors.samples import FootpodSample, GyroBatch, Placement
from tests.conftest import OUTDOOR

Windows = Sequence[FormWindow | Second]


@pytest.fixture(scope="module")
def hip(running_data: Path) -> AccelTrack:
    return load_recording(OUTDOOR).track("hip")


@pytest.fixture(scope="module")
def frame(hip: AccelTrack) -> BodyFrame:
    sel = (hip.t > 60) & (hip.t < 90)
    return estimate_body_frame(hip.xyz[sel], hip.rate_hz, 158 / 60)


def first(track: AccelTrack, seconds: float) -> AccelTrack:
    keep = track.t < seconds
    return dataclasses.replace(track, t=track.t[keep], xyz=track.xyz[keep])


def trunk_windows(
    accel: AccelTrack, gyro: GyroTrack | None, chunk_s: float, wait_s: float = 3.0
) -> list[TrunkWindow]:
    analyzer = TrunkAnalyzer(accel.sensor, accel.placement, AnalysisSettings(sensor_wait_s=wait_s))
    recording = Recording("r", (accel,), gyro=(gyro,) if gyro else ())
    out = []
    for _, sample in timed_samples(recording, chunk_s):
        if isinstance(sample, GyroBatch):
            out += analyzer.feed_gyro(sample)
        else:
            out += analyzer.feed(sample)  # type: ignore[arg-type]
    return out + analyzer.flush()


def analyse(recording: Recording, chunk_s: float = 10.0) -> Windows:
    analysis = FormAnalysis(AnalysisSettings(sensor_wait_s=chunk_s + 5))
    windows = [w for _, s in timed_samples(recording, chunk_s) for w in analysis.feed(s)]
    return windows + analysis.flush()


def same(a: TrunkWindow, b: TrunkWindow) -> bool:
    """Equal but for the last bits of floating point (sums taken in other orders)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "steps":  # each step's numbers, where it has them
            x, y = (tuple(np.nan if v is None else v for s in w for v in s) for w in (x, y))
            if len(x) != len(y) or not np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True):
                return False
        elif isinstance(x, float | tuple) and y is not None:
            if x != pytest.approx(y, rel=1e-9, abs=1e-9):
                return False
        elif x != y:
            return False
    return True


def test_the_windows_do_not_depend_on_how_the_stream_is_cut(hip: AccelTrack) -> None:
    # Live batches of a fifth of a second, or whole stretches offline: the same numbers.
    track = first(hip, 400)
    small, large = trunk_windows(track, None, 0.2), trunk_windows(track, None, 7.3)
    assert len(small) == len(large) > 350
    assert all(same(a, b) for a, b in zip(small, large, strict=True))


def test_with_a_gyroscope_too(hip: AccelTrack, frame: BodyFrame) -> None:
    pair = synthetic_pair(first(hip, 300), frame)
    accel, gyro = pair.accel[0], pair.gyro[0]
    small = trunk_windows(accel, gyro, 0.37, wait_s=35)
    large = {w.t: w for w in trunk_windows(accel, gyro, 30.0, wait_s=35)}
    # Past the first batch: before any gyroscope sample, nobody knows one will come.
    later = [w for w in small if w.t > 40]
    assert any(w.pelvic_drop_deg is not None for w in later)
    assert all(same(w, large[w.t]) for w in later)


def test_the_cost_of_a_sample_does_not_grow_with_the_run(hip: AccelTrack) -> None:
    analyzer = TrunkAnalyzer(hip.sensor, hip.placement)
    sizes = []
    for batch in hip.batches(1.0):
        analyzer.feed(batch)
        if batch.t[-1] > 120:
            sizes.append(
                (analyzer._samples.t.size, analyzer._steps.shape[0], len(analyzer._seconds))
            )
    # What is kept is a bounded stretch of the recent past, however long the run.
    samples, steps, seconds = np.array(sizes).max(axis=0)
    assert samples <= 24 * hip.rate_hz and steps <= 60 and seconds <= 14


def test_the_per_step_metrics_of_the_real_run_are_those_of_a_jogger(hip: AccelTrack) -> None:
    running = [w for w in trunk_windows(hip, None, 10.0) if w.running]
    medians = {
        name: float(np.median([getattr(w, name) for w in running if getattr(w, name)]))
        for name in ("bounce_cm", "contact_ms", "braking_g", "step_time_cv_pct")
    }
    # About 2.2 m/s on a hip belt: published trunk bounce 6-10 cm, contact 250-300 ms,
    # stride-time variability 1-4 %.
    assert 8 < medians["bounce_cm"] < 11
    assert 250 < medians["contact_ms"] < 320
    assert 0.5 < medians["braking_g"] < 1.5
    assert 1 < medians["step_time_cv_pct"] < 4


def test_bounce_is_the_height_of_each_step() -> None:
    # Test motion: up and down 2 x 4 cm at 162 steps/min, swaying forward at the step rate.
    fs, hz, height = 100.0, 2.7, 0.04
    t = np.arange(0, 60, 1 / fs)
    w = 2 * np.pi * hz
    up = 1 + height * w**2 * np.sin(w * t) / 9.80665  # specific force, g
    forward = 0.3 * np.sin(w * t + 1.0)
    xyz = np.column_stack([forward, 0.05 * np.sin(w * t / 2), up])
    track = AccelTrack("test", Placement.PELVIS, t, xyz)
    bounce = [w.bounce_cm for w in trunk_windows(track, None, 1.0) if w.bounce_cm]
    assert len(bounce) > 30
    assert np.median(bounce) == pytest.approx(200 * height, rel=0.03)


@pytest.fixture(scope="module")
def pair_windows(hip: AccelTrack, frame: BodyFrame) -> tuple[Windows, Windows]:
    """Made-up chest and pelvis sensors on the real run: as worn, and with the pelvis tipping
    forward 3 degrees while the chest pitches back 3 (ribs flaring) from 560 s, and the
    pelvic drop growing by 3 degrees from 1040 s."""
    track = first(hip, 1200)
    drift_p = dataclasses.replace(
        PELVIS, lean_drift=(Ramp(560, 3.0),), drop_drift=(Ramp(1040, 3.0),)
    )
    drift_c = dataclasses.replace(CHEST, lean_drift=(Ramp(560, -3.0),))
    return (
        analyse(synthetic_pair(track, frame)),
        analyse(synthetic_pair(track, frame, drift_p, drift_c)),
    )


def values(windows: Windows, name: str, lo: float, hi: float) -> np.ndarray:
    return np.array([w.values[name] for w in windows if lo <= w.t <= hi and name in w.values])


def test_gyroscope_angles_match_the_test_motion(pair_windows: tuple[Windows, Windows]) -> None:
    plain, _ = pair_windows
    # The ranges per stride that the test motion was given (a few percent short: the
    # filter's 25 Hz sampling and the lean of the segments).
    assert np.median(values(plain, "pelvis.pelvic_drop_deg", 0, 1200)) == pytest.approx(
        PELVIS.drop_deg, rel=0.08
    )
    assert np.median(values(plain, "pelvis.rotation_deg", 0, 1200)) == pytest.approx(
        PELVIS.rotation_deg, rel=0.1
    )
    assert np.median(values(plain, "chest.rotation_deg", 0, 1200)) == pytest.approx(
        CHEST.rotation_deg, rel=0.1
    )


def test_the_lumbar_arch_opens_as_the_pelvis_tips_and_the_ribs_flare(
    pair_windows: tuple[Windows, Windows],
) -> None:
    plain, drifted = pair_windows
    held = (600, 710)  # the changes at full size, in the third running bout

    def change(name: str) -> float:
        return float(np.mean(values(drifted, name, *held) - values(plain, name, *held)))

    assert change("pelvis.lean_deg") == pytest.approx(3.0, abs=0.3)
    assert change("chest.lean_deg") == pytest.approx(-3.0, abs=0.3)
    assert change("spine.lumbar_arch_deg") == pytest.approx(6.0, abs=0.4)
    # The real runner's own lean changes move both sensors alike: the arch does not see them.
    assert np.std(values(plain, "spine.lumbar_arch_deg", 0, 1200)) < 0.5
    assert change("pelvis.pelvic_drop_deg") == pytest.approx(0.0, abs=0.2)
    drop = float(
        np.mean(
            values(drifted, "pelvis.pelvic_drop_deg", 1080, 1190)
            - values(plain, "pelvis.pelvic_drop_deg", 1080, 1190)
        )
    )
    assert drop == pytest.approx(3.0, rel=0.1)


def footpod_run(phases: list[tuple[float, float, float]]) -> list[FootpodSample]:
    """Readings once a second: (seconds, speed m/s, cadence steps/min) for each phase."""
    out, t = [], 0.0
    for seconds, speed, cadence in phases:
        for _ in range(int(seconds)):
            t += 1.0
            out.append(FootpodSample(t, speed_mps=speed, cadence_spm=cadence))
    return out


def test_a_footpod_alone_gives_speed_cadence_and_stride() -> None:
    analysis = FormAnalysis()
    windows = [
        w for s in footpod_run([(30, 0.0, 0.0), (120, 3.0, 170.0)]) for w in analysis.feed(s)
    ]
    assert not windows[0].running and windows[-1].running
    last = windows[-1].values
    assert last["footpod.speed_mps"] == 3.0 and last["footpod.cadence_spm"] == 170.0
    assert last["footpod.stride_m"] == pytest.approx(3.0 * 120 / 170)


def test_intervals_are_not_overstriding_but_longer_steps_at_the_same_speed_are() -> None:
    rules = load_rules()
    analysis = FormAnalysis()
    learn = footpod_run([(300, 3.0, 170.0)])
    windows = [w for s in learn for w in analysis.feed(s) if w.running]
    base = Baseline(values=dict(windows[-1].values), spread={}, speed_mps=windows[-1].speed_mps)
    detector = DriftDetector(rules, base)
    # Faster by 1 m/s with the cadence a runner adds for it: a change of pace, not a fault.
    # Then back to 3 m/s with 6 % fewer, longer steps: overstriding.
    later = footpod_run([(300, 3.0, 170.0), (120, 4.0, 183.6), (60, 3.0, 170.0), (90, 3.0, 160.0)])
    found = []
    for s in later[300:]:
        for w in analysis.feed(s):
            found += [c.episode for c in detector.update(w) if c.started]
    assert found and {e.fault for e in found} == {Fault.OVERSTRIDE}
    assert min(e.start for e in found) > 300 + 120 + 60  # not during the faster interval
    assert {e.metric for e in found} == {"footpod.cadence_spm", "footpod.stride_m"}


def test_the_overstride_indicator_holds_still_through_intervals_and_rises_with_long_steps() -> None:
    engine = RunEngine(load_catalogue(), load_rules())
    seen: list[Second] = []
    engine.on_second = seen.append
    engine.start()
    # Warm-up and baseline at 3 m/s, an interval at 4 m/s (with the cadence a runner adds
    # for it), then 3 m/s again with 6 % fewer, longer steps.
    run = footpod_run([(200, 3.0, 170.0), (120, 4.0, 183.6), (60, 3.0, 170.0), (90, 3.0, 160.0)])
    for sample in run:
        engine.feed(sample)

    def indicator(lo: float, hi: float) -> np.ndarray:
        return values(seen, "footpod.overstride_pct", lo, hi)

    assert engine.baseline is not None and engine.baseline.speed_mps == 3.0
    assert np.abs(indicator(215, 315)).max() < 1.5  # the interval, once the window is in it
    assert np.median(indicator(400, 470)) == pytest.approx(6.1, abs=0.3)
    assert {e.fault for e in engine.episodes} == {Fault.OVERSTRIDE}
    assert min(e.start for e in engine.episodes) > 380
