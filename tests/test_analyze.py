"""`companion analyze`: a recording minute by minute, as a person or a program reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from companion.form.alignment import estimate_body_frame
from companion.lab.validation import PELVIS, synthetic_pair
from sensors.recorded.recording import load_recording
from tests.conftest import OUTDOOR, RAW_SAMPLE
from tests.test_cli import companion


def test_the_outdoor_run_minute_by_minute_as_json(running_data: Path) -> None:
    done = companion("analyze", str(OUTDOOR), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["minutes"]) == 25
    assert 16 * 60 < result["running_s"] < 18 * 60  # the stops are not running
    base = result["baseline"]["values"]
    assert base["pelvis.cadence_spm"] == pytest.approx(158, abs=2)
    assert {"pelvis.bounce_cm", "pelvis.contact_ms", "pelvis.lean_deg"} <= set(base)
    assert result["episodes"] == []
    standing = [m for m in result["minutes"] if m["running_s"] == 0]
    assert standing and all(m["values"] == {} for m in standing)


def test_the_table_shows_minutes_baseline_and_drifts(running_data: Path, tmp_path: Path) -> None:
    done = companion("analyze", str(OUTDOOR), "--warmup", "30", "--learn", "90")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ("minute by minute", "cadence", "bounce", "base", "No drift episodes"):
        assert expected in out
    assert "17.1 of 25.0 minutes running" in out


def test_a_plain_csv_with_a_column_map_and_a_gyroscope(running_data: Path, tmp_path: Path) -> None:
    # Made-up pelvis sensor with a gyroscope (test motion on the real run), written the way
    # another app might: its own column names, m/s² and milliseconds.
    hip = load_recording(OUTDOOR).track("hip")
    keep = hip.t < 300
    hip = type(hip)(hip.sensor, hip.placement, hip.t[keep], hip.xyz[keep])
    sel = (hip.t > 60) & (hip.t < 90)
    pair = synthetic_pair(hip, estimate_body_frame(hip.xyz[sel], 100.0, 158 / 60))
    accel, gyro = pair.accel[0], pair.gyro[0]
    path = tmp_path / "phone.csv"
    rows = np.column_stack([1000 * accel.t, 9.80665 * accel.xyz, gyro.xyz])
    header = "timestamp_ms,accX,accY,accZ,gyrX,gyrY,gyrZ"
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.5f")

    columns = "t=timestamp_ms,x=accX,y=accY,z=accZ,gx=gyrX,gy=gyrY,gz=gyrZ"
    done = companion(
        "analyze", str(path), "--columns", columns, "--units", "ms2", "--time-unit", "ms", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    drop = [m["values"]["pelvis.pelvic_drop_deg"] for m in result["minutes"][1:4]]
    assert np.median(drop) == pytest.approx(PELVIS.drop_deg, rel=0.08)


def test_a_column_that_is_not_there_is_named(running_data: Path) -> None:
    done = companion("analyze", str(RAW_SAMPLE), "--columns", "t=t_s,x=ax,y=acc_y_ms2,z=acc_z_ms2")
    assert done.returncode == 2
    assert "no column(s) 'ax'" in done.stderr and "acc_x_ms2" in done.stderr
    done = companion("analyze", str(RAW_SAMPLE), "--columns", "t=t_s,x")
    assert done.returncode == 2 and "ROLE=COLUMN" in done.stderr


def test_too_short_to_run_says_so(running_data: Path) -> None:
    done = companion(
        "analyze", str(RAW_SAMPLE), "--columns", "t=t_s,x=acc_x_ms2,y=acc_y_ms2,z=acc_z_ms2",
        "--units", "ms2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no running found in 6 s" in done.stdout
