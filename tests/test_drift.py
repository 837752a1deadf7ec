"""Baseline and drift detection: persistence, hysteresis, pauses, speed, and the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.form.analysis import FormWindow
from companion.form.drift import Baseline, BaselineLearner, DriftDetector
from companion.form.rules import DriftRule, RulesError, load_rules
from companion.form.terrain import Terrain
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


# -- terrain, pace, step frequency and a moved sensor, with the bundled rules ---------------

RULES = load_rules()
PELVIS = {"lean_deg": 2.0, "cadence_spm": 170.0, "bounce_cm": 7.0, "braking_g": 0.8}


def pelvis(t: float, **change: float) -> FormWindow:
    """A pelvis window with the baseline's values, changed by `change` (lean in degrees,
    the others as factors)."""
    values = {
        f"pelvis.{m}": v + change.get(m, 0.0) if m == "lean_deg" else v * change.get(m, 1.0)
        for m, v in PELVIS.items()
    }
    return FormWindow(t=t, running=True, values=values)


def started(detector: DriftDetector, windows: list[FormWindow]) -> list[str]:
    return [c.episode.metric for w in windows for c in detector.update(w) if c.started]


def detector() -> DriftDetector:
    base = {f"pelvis.{m}": v for m, v in PELVIS.items()}
    return DriftDetector(RULES, Baseline(values=base, spread={}))


def test_a_tilt_with_the_opposite_change_of_braking_is_a_hill_not_a_fault() -> None:
    # The treadmill's +10°: 11° more forward, a third less braking. Alone, the tilt is a fault.
    uphill = detector()
    assert started(uphill, [pelvis(t, lean_deg=11.0, braking_g=0.67) for t in range(120)]) == []
    assert uphill.terrain is Terrain.UPHILL and uphill.hill is Terrain.UPHILL
    downhill = detector()  # -5°: leaning back, braking harder, bouncing more
    windows = [pelvis(t, lean_deg=-4.0, braking_g=1.15, bounce_cm=1.3) for t in range(120)]
    assert started(downhill, windows) == [] and downhill.terrain is Terrain.DOWNHILL
    tilted = detector()  # the sensor's segment tipped alone: braking moves 1 % a degree
    windows = [pelvis(t, lean_deg=5.0, braking_g=0.95) for t in range(60)]
    assert started(tilted, windows) == ["pelvis.lean_deg"] and tilted.terrain is Terrain.LEVEL


def test_slower_steps_alone_are_a_choice_not_overstriding_or_bounce() -> None:
    # 10 % slower steps bounce about 23 % higher (height grows with the step time squared).
    choice = detector()
    windows = [pelvis(t, cadence_spm=0.9, bounce_cm=1.23) for t in range(120)]
    assert started(choice, windows) == []
    overstride = detector()  # the same, landing harder: the foot lands ahead
    windows = [pelvis(t, cadence_spm=0.9, bounce_cm=1.23, braking_g=1.08) for t in range(60)]
    assert started(overstride, windows) == ["pelvis.cadence_spm"]
    bounce = detector()  # higher at the same step rate: the push itself
    assert started(bounce, [pelvis(t, bounce_cm=1.3) for t in range(60)]) == ["pelvis.bounce_cm"]


def test_without_a_footpod_braking_reads_the_pace_from_the_cadence() -> None:
    faster = detector()  # the outdoor run's fast finish: 11 % quicker steps, 22 % more braking
    windows = [pelvis(t, cadence_spm=1.11, braking_g=1.22, bounce_cm=0.8) for t in range(120)]
    assert started(faster, windows) == []
    harder = detector()  # as much harder at the same step rate: the glutes are off
    windows = [pelvis(t, braking_g=1.3) for t in range(60)]
    assert started(harder, windows) == ["pelvis.braking_g"]


def test_a_sensor_that_moved_ends_its_tilt_drifts_silently_and_is_learned_again() -> None:
    det = detector()
    drifting = [pelvis(t, lean_deg=5.0, braking_g=0.95) for t in range(60)]
    assert started(det, drifting) == ["pelvis.lean_deg"]
    # The strap slips a further 9° at once (no hill's change of braking) and stays there.
    moved = [pelvis(t, lean_deg=14.0, braking_g=0.95) for t in range(60, 120)]
    changes = [c for w in moved for c in det.update(w)]
    assert [(c.episode.metric, c.started, c.moved) for c in changes] == [
        ("pelvis.lean_deg", False, True)
    ]
    ((source, remount),) = det.remounts
    assert source == "pelvis" and "stepped" in remount.why and remount.t == 60
    # The new tilt is learned from a minute of running; from then on it is the reference.
    assert started(det, [pelvis(t, lean_deg=14.0) for t in range(120, 200)]) == []
    assert det.values["pelvis.lean_deg"] == pytest.approx(16.0)
    ramp = [pelvis(t, lean_deg=14.0 + min((t - 200) / 30, 1.0) * 5.0) for t in range(200, 280)]
    assert started(det, ramp) == ["pelvis.lean_deg"] and len(det.remounts) == 1


def test_a_tilt_that_drifts_over_half_a_minute_is_the_runner_not_the_sensor() -> None:
    det = detector()
    ramp = [pelvis(t, lean_deg=min(t / 30, 1.0) * 8.75) for t in range(90)]
    assert started(det, ramp) == ["pelvis.lean_deg"] and det.remounts == []


def test_across_a_stop_a_changed_tilt_is_a_moved_sensor() -> None:
    det = detector()
    started(det, [pelvis(t) for t in range(30)])
    det.pause()
    started(det, [pelvis(t, lean_deg=6.0) for t in range(100, 110)])
    assert [why for _, r in det.remounts for why in [r.why]] == [
        "the tilt changed +6.0° across the stop"
    ]


def test_a_forward_axis_turned_about_the_vertical_is_a_moved_sensor() -> None:
    det = detector()
    w = pelvis(0)
    det.update(FormWindow(t=0, running=True, values=w.values, turns={"pelvis": 8.0}))
    assert det.remounts == []
    det.update(FormWindow(t=1, running=True, values=w.values, turns={"pelvis": 35.0}))
    assert [r.why for _, r in det.remounts] == ["the forward axis turned 35°"]
