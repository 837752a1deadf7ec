"""Baseline and drift detection: persistence, hysteresis, pauses, speed, and the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.form.analysis import FormWindow
from companion.form.drift import (
    Baseline,
    BaselineLearner,
    DriftDetector,
    DriftRule,
    RulesError,
    load_rules,
)
from cues.faults import Fault

LEAN = DriftRule(
    metric="lean_deg",
    direction="above",
    threshold=3.5,
    clear=1.5,
    persist_s=20,
    clear_s=10,
    faults={"pelvis": Fault.ANTERIOR_TILT, "chest": Fault.FORWARD_LEAN},
)
CADENCE = DriftRule(
    metric="cadence_spm",
    direction="below",
    relative=True,
    threshold=0.045,
    clear=0.02,
    persist_s=20,
    clear_s=10,
    per_mps=0.08,
    faults={"pelvis": Fault.OVERSTRIDE},
)
BASE = Baseline(values={"pelvis.lean_deg": 1.0, "pelvis.cadence_spm": 160.0}, spread={})
CHEST = Baseline(values={"chest.lean_deg": 1.0, "chest.cadence_spm": 160.0}, spread={})


def window(
    t: float,
    lean: float = 1.0,
    cadence: float = 160.0,
    place: str = "pelvis",
    speed: float | None = None,
) -> FormWindow:
    values = {f"{place}.lean_deg": lean, f"{place}.cadence_spm": cadence}
    if speed is not None:
        values["footpod.speed_mps"] = speed
    return FormWindow(t=t, running=True, values=values)


def feed(
    detector: DriftDetector,
    values: list[float],
    start: float = 0.0,
    metric: str = "lean",
    **others: float | str,
) -> list[tuple[float, bool, Fault]]:
    changes = []
    for i, v in enumerate(values):
        for c in detector.update(window(start + i, **{metric: v}, **others)):  # type: ignore[arg-type]
            changes.append((start + i, c.started, c.episode.fault))
    return changes


def test_a_short_excursion_is_not_a_drift() -> None:
    det = DriftDetector((LEAN,), BASE)
    assert feed(det, [1.0] * 10 + [6.0] * 19 + [1.0] * 30) == []


def test_a_sustained_excursion_starts_and_ends_one_episode() -> None:
    det = DriftDetector((LEAN,), BASE)
    changes = feed(det, [1.0] * 10 + [6.0] * 60 + [1.0] * 30)
    # Past the threshold from t=10; sustained for 20 s; back within `clear` from t=70 for 10 s.
    assert changes == [(30.0, True, Fault.ANTERIOR_TILT), (80.0, False, Fault.ANTERIOR_TILT)]


def test_hysteresis_keeps_an_episode_open_between_clear_and_threshold() -> None:
    det = DriftDetector((LEAN,), BASE)
    # 3.0 is below the 3.5 threshold (+1.0 baseline) but above the 1.5 clear line.
    changes = feed(det, [6.0] * 30 + [3.7] * 60 + [1.0] * 20)
    assert [c[1] for c in changes] == [True, False]
    assert changes[1][0] == 30 + 60 + 10


def test_placement_decides_the_fault_and_rules_without_one_are_skipped() -> None:
    chest = DriftDetector((LEAN, CADENCE), CHEST)
    assert feed(chest, [6.0] * 30, place="chest")[0][2] is Fault.FORWARD_LEAN
    chest = DriftDetector((LEAN, CADENCE), CHEST)
    # CADENCE has no chest fault.
    assert feed(chest, [140.0] * 40, metric="cadence", place="chest") == []
    pelvis = DriftDetector((LEAN, CADENCE), BASE)
    assert feed(pelvis, [150.0] * 30, metric="cadence")[0][2] is Fault.OVERSTRIDE


def test_a_faster_pace_is_not_a_drift_when_the_footpod_gives_the_speed() -> None:
    base = Baseline(values=dict(BASE.values), spread={}, speed_mps=3.0)
    # Slower by 1 m/s: 8 % fewer steps is what the baseline expects there, not overstriding.
    det = DriftDetector((CADENCE,), base)
    assert feed(det, [147.2] * 60, metric="cadence", speed=2.0) == []
    # The same cadence at the baseline's own speed is 8 % down: a drift.
    det = DriftDetector((CADENCE,), base)
    assert feed(det, [147.2] * 30, metric="cadence", speed=3.0)[0][2] is Fault.OVERSTRIDE
    # Without a speed in the window, the baseline itself is the reference.
    det = DriftDetector((CADENCE,), base)
    assert feed(det, [147.2] * 30, metric="cadence")[0][1] is True


def test_relative_thresholds_follow_the_baseline() -> None:
    det = DriftDetector((CADENCE,), BASE)
    assert feed(det, [153.5] * 40, metric="cadence") == []  # -4.1 %: inside 4.5 %
    assert feed(det, [152.0] * 40, start=40, metric="cadence")[0][1] is True  # -5 %


def test_a_pause_restarts_the_persistence_count() -> None:
    det = DriftDetector((LEAN,), BASE)
    assert feed(det, [6.0] * 15) == []
    det.pause()
    assert feed(det, [6.0] * 15, start=100) == []
    assert feed(det, [6.0] * 10, start=115)[0][0] == 120.0


def test_peak_and_closing_at_the_end_of_the_run() -> None:
    det = DriftDetector((LEAN,), BASE)
    feed(det, [6.0] * 25 + [9.0] * 5 + [7.0] * 10)
    (ep,) = det.open_episodes
    assert ep.peak_excess == pytest.approx(8.0) and 25 <= ep.peak_t < 30
    assert det.close(50.0) == [ep] and ep.end == 50.0 and det.open_episodes == []


def test_baseline_is_learned_after_the_warm_up_from_the_runners_own_values() -> None:
    learner = BaselineLearner(warmup_s=60, learn_s=120)
    result = None
    for i in range(1, 200):
        lean = 9.0 if i <= 60 else 2.0  # the warm-up is not judged, nor learned from
        result = learner.add(window(i, lean=lean, cadence=150 + (i % 3)), running_s=i) or result
        if result:
            assert i == 180
            break
    assert result is not None
    assert result.values["pelvis.lean_deg"] == 2.0
    assert result.values["pelvis.cadence_spm"] == 151.0
    assert result.speed_mps is None


def test_bundled_rules_load() -> None:
    rules = load_rules()
    assert {"lean_deg", "cadence_spm", "bounce_cm", "lumbar_arch_deg"} <= {r.metric for r in rules}
    assert all(r.clear < r.threshold for r in rules)
    # Every fault in the coaching table is watched by some rule.
    assert {f for r in rules for f in r.faults.values()} == set(Fault)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[rule]\n", "not valid TOML"),
        ("", "no \\[\\[rule\\]\\] entries"),
        (
            '[[rule]]\nmetric = "lean_deg"\ndirection = "above"\nthreshold = 2\nclear = 3\n'
            'faults = { pelvis = "anterior_tilt" }\n',
            "rule #1: .*clear \\(3.0\\) must be below",
        ),
        (
            '[[rule]]\nmetric = "speed"\ndirection = "above"\nthreshold = 2\nclear = 1\n'
            "faults = {}\n",
            "rule #1: field 'metric'",
        ),
        (
            '[[rule]]\nmetric = "lean_deg"\ndirection = "above"\nthreshold = 2\nclear = 1\n'
            'faults = { pelvis = "slouch" }\n',
            "rule #1: field 'faults.pelvis'",
        ),
        (
            '[[rule]]\nmetric = "lean_deg"\ndirection = "above"\nthreshold = 2\nclear = 1\n'
            'faults = { ankle = "anterior_tilt" }\n',
            "rule #1: field 'faults'.*unknown source",
        ),
    ],
)
def test_broken_rules_files_name_the_file_rule_and_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RulesError, match=problem) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)
