"""Loading recordings in the data folder's format, and replaying them as a sensor source."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import numpy as np
import pytest

from companion.run.demo import DEMO_RECORDING
from sensors.clock import PacedClock, UnpacedClock
from sensors.recorded.recording import G, RecordingError, ReplaySource, load_recording
from sensors.samples import AccelBatch, FootpodSample, Placement, Sample
from tests.conftest import OUTDOOR, RAW_SAMPLE, TREADMILL


def test_outdoor_run_loads_as_documented(running_data: Path) -> None:
    rec = load_recording(OUTDOOR)
    hip, ankle = rec.track("hip"), rec.track("ankle")
    assert (hip.placement, ankle.placement) == (Placement.PELVIS, Placement.OTHER)
    assert hip.t.size == 150_000 and hip.rate_hz == pytest.approx(100.0, abs=1e-6)
    assert rec.duration_s == pytest.approx(1499.99)
    # PROVENANCE: the hip's mean vector is (-0.232, -0.982, 0.111) g.
    np.testing.assert_allclose(hip.xyz.mean(axis=0), [-0.232, -0.982, 0.111], atol=0.002)
    assert rec.trunk_tracks() == (hip,)


def test_bundled_demo_recording_is_the_hip_channel_unchanged(running_data: Path) -> None:
    bundled = load_recording(DEMO_RECORDING).track("hip")
    shared = load_recording(OUTDOOR).track("hip")
    np.testing.assert_array_equal(bundled.t, shared.t)
    np.testing.assert_array_equal(bundled.xyz, shared.xyz)


def test_multi_trial_file_is_laid_end_to_end_or_picked(running_data: Path) -> None:
    whole = load_recording(TREADMILL)
    sacrum = whole.track("sacrum")
    assert sacrum.placement is Placement.PELVIS and sacrum.rate_hz == pytest.approx(500.0)
    assert np.all(np.diff(sacrum.t) > 0)
    assert sacrum.t.size == 62_000
    one = load_recording(TREADMILL, trial=4).track("sacrum")
    assert one.t.size == 2480 and one.t[0] == 0.0
    # Body axes (v, ap) land on z and x; the missing ml axis reads 0.
    assert np.all(one.xyz[:, 1] == 0) and one.xyz[:, 2].mean() == pytest.approx(1.15, abs=0.05)
    with pytest.raises(RecordingError, match="no trial 99"):
        load_recording(TREADMILL, trial=99)


def test_metres_per_second_squared_become_g(running_data: Path) -> None:
    rec = load_recording(RAW_SAMPLE, placements={"acc": Placement.PELVIS})
    acc = rec.track("acc")
    assert acc.placement is Placement.PELVIS
    assert np.linalg.norm(acc.xyz.mean(axis=0)) == pytest.approx(9.88 / G, abs=0.01)


def test_footpod_and_heart_rate_columns_become_samples(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    rows = ["t_s,chest_x_g,chest_y_g,chest_z_g,footpod_speed_mps,footpod_cadence_spm,hr_bpm"]
    for i in range(300):
        fp = f"3.1,{160 + i % 2}" if i % 100 == 0 else ","
        hr = "150" if i % 50 == 0 else ""
        rows.append(f"{i / 100:.2f},0,0,1,{fp},{hr}")
    path.write_text("\n".join(rows) + "\n")
    rec = load_recording(path)
    assert rec.track("chest").placement is Placement.CHEST
    assert [s.t for s in rec.footpod] == [0.0, 1.0, 2.0]
    assert rec.footpod[0] == FootpodSample(0.0, speed_mps=3.1, cadence_spm=160.0)
    assert [s.bpm for s in rec.heart_rate] == [150.0] * 6


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("time,hip_x_g\n0,1\n", "no 't_s' column"),
        ("t_s,speed\n0,1\n", "no accelerometer columns"),
        ("t_s,hip_x_g,hip_y_g,hip_z_g\n", "no rows"),
        (
            "t_s,hip_x_g,hip_y_g,hip_z_g\n0,1,2,3\n0.01,1,oops,3\n",
            "line 3, column .hip_y_g.: .oops. is not a number",
        ),
        (
            "t_s,hip_x_g,hip_y_g,hip_z_g\n0,1,2,3\n0.02,1,2,3\n0.01,1,2,3\n",
            "line 4: the time in 't_s' does not increase \\(0.02 then 0.01\\)",
        ),
        ("t_s,hip_x_g,hip_y_g,hip_z_g\n0,0,1,0\n,0,1,0\n", "line 3: no time in 't_s'"),
        ("t_s,hip_x_g,hip_y_g,hip_z_g\n0,0,1,0\n\n0.01,0,inf,0\n", "line 4, .*: inf is not"),
        ("t_s,hip_x_g,hip_y_g,hip_x_G\n0,0,1,0\n", "two columns for hip's x axis"),
        ("t_s,hip_x_g,hip_y_g,hip_v_g\n0,0,1,0\n", "hip mixes its own axes"),
        ("t_s,hip_x_g,hip_y_g,hip_z_ms2\n0,0,1,0\n", "hip's columns mix units g and ms2"),
        (
            "t_s,hip_x_g,hip_y_g,hip_z_mg\n0,0,1,0\n",
            "sensor 'hip' has no z axis .* 'hip_z_mg' is not read: its unit 'mg' is not one",
        ),
        ("t_s,hip_x_mps2\n0,0\n", "no accelerometer columns .* 'hip_x_mps2' is not read"),
        ("0.0,0.1,0.9,0.2\n0.01,0.1,0.9,0.2\n", "its first line holds numbers"),
        ("t_s\thip_x_g\n", "separated by tabs"),
        ("\n\n  \n", "the file is empty"),
    ],
)
def test_broken_files_are_refused_with_file_and_reason(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(content)
    with pytest.raises(RecordingError, match=problem) as caught:
        load_recording(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    whole = gzip.compress(b"t_s,hip_x_g,hip_y_g,hip_z_g\n" + b"0.0,1,2,3\n" * 5000)
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RecordingError, match="cannot read"):
        load_recording(path)


def test_replay_yields_every_sample_in_time_order(running_data: Path) -> None:
    rec = load_recording(OUTDOOR)

    async def collect() -> list[Sample]:
        return [s async for s in ReplaySource(rec, UnpacedClock(), chunk_s=0.5).stream()]

    samples = asyncio.run(collect())
    batches = [s for s in samples if isinstance(s, AccelBatch)]
    ends = [float(b.t[-1]) for b in batches]
    assert ends == sorted(ends)
    for name in ("hip", "ankle"):
        mine = [b for b in batches if b.sensor == name]
        t = np.concatenate([b.t for b in mine])
        np.testing.assert_array_equal(t, rec.track(name).t)


def test_paced_clock_takes_up_after_a_hold_instead_of_rushing() -> None:
    now = [0.0]
    clock = PacedClock(speed=10.0, monotonic=lambda: now[0], max_lag_s=0.5)
    asyncio.run(clock.sleep_until(0.0))
    now[0] = 3.0  # the waiter was held for 3 s of wall time (30 run seconds)
    assert clock.now() == pytest.approx(30.0)
    asyncio.run(clock.sleep_until(1.0))  # far behind: re-anchor at the waiter's time
    assert clock.now() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        PacedClock(speed=0)
