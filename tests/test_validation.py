"""The goals of the form analysis, held on the real recordings (see `companion.lab.validation`
and `bench/validation.py`, which prints the same figures for BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.form.alignment import BodyFrame, estimate_body_frame
from companion.lab.validation import (
    Detection,
    cadence_against_ankle,
    cadence_on_treadmill,
    contact_on_treadmill,
    detect,
    detect_synthetic,
    engine_episodes,
    forward_axis_of,
    synthetic_pair,
)
from sensors.recorded.recording import AccelTrack, load_recording
from tests.conftest import OUTDOOR, TREADMILL, TRIALS


@pytest.fixture(scope="module")
def hip(running_data: Path) -> AccelTrack:
    return load_recording(OUTDOOR).track("hip")


def test_cadence_within_one_step_a_minute_of_the_force_plates(running_data: Path) -> None:
    check = cadence_on_treadmill(TREADMILL, TRIALS)
    assert check.compared == 25
    assert check.mae <= 1.0 and check.worst <= 2.0


def test_cadence_within_one_step_a_minute_of_the_ankle_outdoors(running_data: Path) -> None:
    check = cadence_against_ankle(OUTDOOR)
    assert check.compared > 900
    assert check.mae <= 1.0


def test_contact_time_within_twenty_ms_of_the_force_plates(running_data: Path) -> None:
    check = contact_on_treadmill(TREADMILL, TRIALS)
    assert check.mae <= 20.0 and abs(float(np.mean(check.errors))) <= 10.0


def test_no_drift_in_the_unaltered_run(hip: AccelTrack) -> None:
    episodes, judged = engine_episodes(hip)
    # Goal: at most one false episode an hour. Fourteen minutes are judged here, so one
    # would already be four an hour.
    assert judged > 800
    assert episodes == []


def summary(found: list[Detection]) -> tuple[float, int]:
    delays = [d.delay_s for d in found if d.delay_s is not None]
    return float(np.median(delays + [np.inf] * (len(found) - len(delays)))), len(delays)


def test_injected_drifts_are_found_within_thirty_seconds(hip: AccelTrack) -> None:
    found = detect(hip, forward_axis_of(hip))
    median, hits = summary(found)
    # Four kinds, two sizes, two bouts. Goal: median delay after the drift reaches its
    # threshold size of at most 30 s.
    assert len(found) == 16
    assert median <= 30.0
    assert hits >= 15, [(d.injection.kind, d.delay_s) for d in found]
    assert all(d.delay_s is None or 0 < d.delay_s < 60 for d in found)


@pytest.fixture(scope="module")
def frame(hip: AccelTrack) -> BodyFrame:
    sel = (hip.t > 60) & (hip.t < 90)
    return estimate_body_frame(hip.xyz[sel], hip.rate_hz, 158 / 60)


def test_made_up_chest_and_pelvis_sensors_raise_no_drift_as_worn(
    hip: AccelTrack, frame: BodyFrame
) -> None:
    episodes, judged = engine_episodes(synthetic_pair(hip, frame))
    assert judged > 800 and episodes == []


def test_drifts_only_two_sensors_or_a_gyroscope_can_see_are_found(
    hip: AccelTrack, frame: BodyFrame
) -> None:
    # Test motion (made up on the real run): lumbar arch, pelvic drop, chest rotation and
    # chest lean, two sizes each, in one bout.
    found = detect_synthetic(hip, frame, starts=(560.0,))
    median, hits = summary(found)
    assert hits == len(found) == 8
    assert median <= 30.0
