"""The whole pure run path on real recordings: analysis, baseline, drift and coach."""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from scipy import signal
from scipy.spatial.transform import Rotation

from companion.coaching.engine import EngineSettings, RunEngine
from companion.coaching.events import (
    Battery,
    CueSpoken,
    DriftEnded,
    DriftStarted,
    Event,
    MetronomeTicks,
    SensorChanged,
    StateChanged,
)
from companion.coaching.files import ConfigurationError
from companion.coaching.summary import RunStats, summary_text
from companion.form.rules import DriftRule, load_rules
from companion.run.demo import DEMO_FAULT, demo_recording
from cues.catalogue import DEFAULT_CATALOGUE, load_catalogue
from cues.faults import Fault
from sensors.recorded.recording import AccelTrack, load_recording
from sensors.samples import (
    BatteryLevel,
    FootpodSample,
    HeartRateSample,
    Link,
    Placement,
    Sample,
    SensorStatus,
)
from tests.conftest import BOUTS, OUTDOOR, TREADMILL, known

E = TypeVar("E", bound=Event)


Run = tuple[list[Event], RunStats]


def coach(
    track: AccelTrack, extra: list[Sample] | None = None, settings: EngineSettings | None = None
) -> Run:
    engine = RunEngine(load_catalogue(), load_rules(), settings)
    events = engine.start()
    for sample in extra or []:
        events += engine.feed(sample)
    for batch in track.batches(2.0):  # any size gives the same windows (tested below)
        events += engine.feed(batch)
    end, stats = engine.finish()
    return events + end, stats


def of(kind: type[E], events: list[Event]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def form_cues(events: list[Event]) -> list[CueSpoken]:
    return [e for e in of(CueSpoken, events) if e.category == "form"]


@pytest.fixture(scope="module")
def clean_run(running_data: Path) -> Run:
    return coach(load_recording(OUTDOOR).track("hip"))


def test_the_unaltered_run_raises_no_drift_and_no_form_cue(clean_run: Run) -> None:
    events, stats = clean_run
    assert of(DriftStarted, events) == [] and form_cues(events) == []
    assert stats.form_held == 1.0 and stats.cadence_spm == pytest.approx(157.5, abs=1.5)
    assert 900 < stats.running_s < 1150  # PROVENANCE: about 18 minutes of running
    spoken = [e.id for e in of(CueSpoken, events)]
    assert spoken == ["warmup", "baseline-set"]


def test_every_stop_pauses_the_coach(clean_run: Run) -> None:
    events, _ = clean_run
    with BOUTS.open() as fh:
        bouts = [(float(b["start_s"]), float(b["end_s"])) for b in csv.DictReader(fh)]
    pauses = [e.t for e in of(StateChanged, events) if e.state == "paused"]
    for (_, end), (start, _) in itertools.pairwise(bouts):
        if start - end >= 20:
            assert any(end <= t <= start for t in pauses), (end, start)
    baseline = next(e for e in events if e.kind == "baseline")
    assert baseline.t < bouts[0][1]  # learned within the first bout


@pytest.fixture(scope="module")
def faulted_run(running_data: Path) -> Run:
    recording, _ = demo_recording()
    return coach(recording.track("hip"))


def test_the_injected_fault_is_found_and_cued_after_it_starts_and_not_before(
    faulted_run: Run,
) -> None:
    events, stats = faulted_run
    start, full = DEMO_FAULT.start_s, DEMO_FAULT.start_s + DEMO_FAULT.ramp_s
    drifts = of(DriftStarted, events)
    injected = {Fault.ANTERIOR_TILT.value, Fault.OVERSTRIDE.value}
    # Slower steps bounce higher too, but only as slower steps do: that is not a drift.
    assert {d.id for d in drifts} == injected
    assert all(start < d.t <= full + 30 for d in drifts)
    cues = form_cues(events)
    assert cues and all(c.t > start for c in cues)
    assert injected <= {c.about for c in cues}
    # The runner corrects: every drift ends soon after the fault is gone, and is confirmed.
    ends = of(DriftEnded, events)
    assert len(ends) == len(drifts)
    assert all(DEMO_FAULT.end_s < e.t <= DEMO_FAULT.end_s + 30 for e in ends)
    confirmations = [c for c in of(CueSpoken, events) if c.category == "confirmation"]
    assert len(confirmations) >= 2 and all(c.t >= min(e.t for e in ends) for c in confirmations)
    assert len(stats.episodes) == len(drifts) and 0.7 < known(stats.form_held) < 0.95


@pytest.mark.parametrize("seed", [7, 8])
def test_the_same_fault_is_found_with_the_sensor_mounted_any_way(
    faulted_run: Run, seed: int
) -> None:
    recording, _ = demo_recording()
    hip = recording.track("hip")
    r = Rotation.random(random_state=seed).as_matrix()
    events, _ = coach(replace(hip, xyz=hip.xyz @ r.T))
    expected = [(d.id, d.t) for d in of(DriftStarted, faulted_run[0])]
    got = [(d.id, d.t) for d in of(DriftStarted, events)]
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert np.allclose([g[1] for g in got], [e[1] for e in expected], atol=3)


def test_short_recordings_learn_no_baseline_and_say_so(running_data: Path) -> None:
    events, stats = coach(load_recording(TREADMILL).track("sacrum"))
    assert of(DriftStarted, events) == [] and stats.form_held is None
    assert "Too short to learn your form" in summary_text(stats)


@pytest.mark.parametrize(
    ("duration_s", "running_s", "why"),
    [
        (5, 0, "Too short to learn your form: that takes 3 minutes of steady running."),
        (100, 45, "that takes 3 minutes of steady running, and this run had 45 seconds."),
        (1200, 0, "No steady running heard, so your form was not learned."),
    ],
)
def test_a_run_not_judged_says_why(duration_s: float, running_s: float, why: str) -> None:
    stats = RunStats(duration_s, running_s, None, 0, 0, (), 0, 0, learn_s=180)
    assert summary_text(stats).endswith(why)


def test_heart_rate_reaches_the_summary() -> None:
    track = AccelTrack(
        "chest", Placement.CHEST, np.arange(0, 5, 0.01), np.tile([0, 0, 1.0], (500, 1))
    )
    _, stats = coach(track, [HeartRateSample(1.0, 150.0), HeartRateSample(2.0, 154.0)])
    assert stats.heart_rate_bpm == 152.0 and stats.running_s == 0
    assert "heart rate 152" in summary_text(stats)


def test_rules_naming_a_fault_no_cue_answers_are_refused(tmp_path: Path) -> None:
    cues = tmp_path / "cues.toml"
    cues.write_text(
        DEFAULT_CATALOGUE.read_text().replace('answers = ["anterior_tilt"]', 'answers = ["bounce"]')
    )
    rule = DriftRule(
        metric="lean_deg",
        direction="above",
        threshold=3,
        clear=1,
        faults={Placement.PELVIS: Fault.ANTERIOR_TILT},
    )
    with pytest.raises(ConfigurationError, match=r"answers the fault anterior_tilt, which"):
        RunEngine(load_catalogue(cues), (rule,))


@pytest.mark.parametrize("rate", [25, 50])
def test_low_sample_rates_find_the_same_drifts(faulted_run: Run, rate: int) -> None:
    """Polar straps stream their accelerometer at 25 to 200 Hz."""
    recording, _ = demo_recording()
    hip = recording.track("hip")
    step = 100 // rate
    slow = replace(
        hip, t=hip.t[::step], xyz=signal.decimate(hip.xyz, step, axis=0, zero_phase=True)
    )
    events, stats = coach(slow)
    expected = [(d.id, d.t) for d in of(DriftStarted, faulted_run[0])]
    got = [(d.id, d.t) for d in of(DriftStarted, events)]
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert np.allclose([g[1] for g in got], [e[1] for e in expected], atol=3)
    assert known(stats.cadence_spm) == pytest.approx(known(faulted_run[1].cadence_spm), abs=0.5)


def test_a_hole_in_the_data_pauses_the_run_and_it_resumes(running_data: Path) -> None:
    hip = load_recording(OUTDOOR).track("hip")
    keep = ~((hip.t > 1100) & (hip.t < 1130))  # 30 s without a sample, mid-bout
    events, _ = coach(replace(hip, t=hip.t[keep], xyz=hip.xyz[keep]))
    states = [(e.t, e.state) for e in of(StateChanged, events) if 1090 < e.t < 1150]
    assert states[0][1] == "paused" and states[0][0] == pytest.approx(1104.0, abs=0.5)
    assert states[1][1] == "running" and states[1][0] >= 1130
    assert of(DriftStarted, events) == []


def test_lost_back_and_low_battery_are_each_said_once() -> None:
    engine = RunEngine(load_catalogue(), load_rules())
    events = engine.start()
    feed: list[SensorStatus | BatteryLevel] = [
        SensorStatus(1.0, "H10", "chest", Link.CONNECTED),
        BatteryLevel(1.0, "H10", "chest", 40),
        SensorStatus(30.0, "H10", "chest", Link.LOST),
        SensorStatus(31.0, "H10", "chest", Link.LOST),  # said once, however often it comes
        SensorStatus(60.0, "H10", "chest", Link.BACK),
        SensorStatus(61.0, "H10", "chest", Link.BACK),
        BatteryLevel(70.0, "H10", "chest", 12),
        BatteryLevel(90.0, "H10", "chest", 11),
        SensorStatus(100.0, "Stryd", "footpod", Link.LOST),
    ]
    for sample in feed:
        events += engine.feed(sample)
        events += engine.coach_tick(sample.t + 10)  # time for the coach to speak
    said = [(e.id, e.text) for e in of(CueSpoken, events) if e.category == "system"]
    assert said == [
        ("sensor-connected", "Chest strap connected."),
        ("sensor-lost", "Chest strap lost. I'll keep trying."),
        ("sensor-back", "Chest strap is back."),
        ("battery-low", "Chest strap battery low."),
        ("sensor-lost", "Footpod lost. I'll keep trying."),
    ]
    assert [e.link for e in of(SensorChanged, events)] == [
        "connected",
        "lost",
        "lost",
        "back",
        "back",
        "lost",
    ]
    assert [e.percent for e in of(Battery, events)] == [40, 12, 11]


def test_metronome_ticks_follow_overstriding_cues_only(running_data: Path) -> None:
    recording, _ = demo_recording()
    events, _ = coach(recording.track("hip"), settings=EngineSettings(metronome_beats=12))
    ticks = of(MetronomeTicks, events)
    overstriding = [c for c in form_cues(events) if c.about == Fault.OVERSTRIDE.value]
    assert ticks and [t.t for t in ticks] == [c.t for c in overstriding]
    # At the cadence the runner had before the steps got long.
    assert all(t.spm == pytest.approx(158, abs=2) and t.beats == 12 for t in ticks)
    # Off unless asked for.
    assert of(MetronomeTicks, coach(recording.track("hip"))[0]) == []


def test_a_pause_the_runner_asks_for_holds_while_they_run_on(running_data: Path) -> None:
    hip = load_recording(OUTDOOR).track("hip")
    engine = RunEngine(load_catalogue(), load_rules())
    events = engine.start()
    counted: dict[str, float] = {}
    for batch in hip.batches(0.2):
        t = float(batch.t[0])
        if t >= 560 and "paused" not in counted:
            counted["paused"] = engine.running_s
            events += engine.pause(t)
        if t >= 660 and "resumed" not in counted:
            counted["resumed"] = engine.running_s
            events += engine.resume(t)
        if t >= 745:
            break
        events += engine.feed(batch)
    states = [(e.t, e.state) for e in of(StateChanged, events) if 550 < e.t < 745]
    assert states[0][1] == "paused" and states[0][0] == pytest.approx(560, abs=0.3)
    # Not before the runner resumes, though they keep moving all the while.
    assert states[1][1] == "running" and states[1][0] == pytest.approx(660, abs=0.3)
    assert counted["resumed"] == counted["paused"]  # held time is not running time
    assert engine.running_s > counted["resumed"] + 60
    said = [(e.t, e.id) for e in of(CueSpoken, events) if 550 < e.t < 745]
    assert said[0][1] == "run-paused" and ("run-resumed" in [i for _, i in said])
    assert [i for t, i in said if 561 < t < 660] == []


def test_splits_by_distance_and_time_tell_distance_pace_and_cadence() -> None:
    engine = RunEngine(load_catalogue(), load_rules(), EngineSettings(split_m=1000))
    events = engine.start()
    for i in range(700):  # a footpod that counted 12 km before this run began
        events += engine.feed(FootpodSample(float(i), 3.33, 170.0, 1.2, 12000 + 3.33 * i))
        events += engine.coach_tick(float(i))
    splits = [(e.t, e.text) for e in of(CueSpoken, events) if e.id == "split"]
    assert splits == [
        (301.0, "1 kilometre in 5 minutes, at 5 minutes a kilometre."),
        (601.0, "2 kilometres in 10 minutes, at 5 minutes a kilometre."),
    ]
    events = engine.split(700.0)
    assert of(CueSpoken, events)[0].text == "2.3 kilometres in 12 minutes, at 5 oh 1 a kilometre."
    _, stats = engine.finish(700.0)
    assert stats.distance_m == pytest.approx(2327.67)

    no_pod = RunEngine(load_catalogue(), load_rules())
    no_pod.start()
    no_pod.coach_tick(30.0)
    said = of(CueSpoken, no_pod.split(40.0))
    assert said[0].text == "0 seconds. Cadence not known yet."
    assert no_pod.heart_rate(50.0) == []  # no strap, nothing to say
    no_pod.feed(HeartRateSample(55.0, 151.4))  # the first data: "Warm up easy ..."
    assert of(CueSpoken, no_pod.heart_rate(65.0))[0].text == "Heart rate 151 beats."


def test_what_is_announced_was_foreseen_a_while_before() -> None:
    """Splits and heart rates say figures only known at the time; the engine foresees them
    closely enough that the words were rendered ahead (20 s or more before) every time."""
    every = EngineSettings(split_m=1000, heart_rate_s=120)
    engine = RunEngine(load_catalogue(), load_rules(), every)
    events = engine.start()
    foreseen: dict[str, float] = {}
    distance = 0.0
    for i in range(900):
        speed = 3.3 + 0.15 * np.sin(i / 40)  # the pace drifts, as a runner's does
        distance += speed
        events += engine.feed(FootpodSample(float(i), speed, 170.0, 1.2, distance))
        events += engine.feed(HeartRateSample(i + 0.5, 150 + 8 * np.sin(i / 90)))
        events += engine.coach_tick(float(i))
        for text in engine.upcoming():
            foreseen.setdefault(text, float(i))
    said = [(e.t, e.id, e.text) for e in of(CueSpoken, events) if e.id in ("split", "heart-rate")]
    assert {cue for _, cue, _ in said} == {"split", "heart-rate"} and len(said) >= 8
    for t, _, text in said:
        assert text in foreseen and foreseen[text] <= t - 20, (t, text)


def test_check_ins_and_splits_come_by_running_time_never_while_paused(
    running_data: Path,
) -> None:
    hip = load_recording(OUTDOOR).track("hip")
    every = EngineSettings(checkin_s=120, split_s=300, heart_rate_s=0)

    def scheduled(batch_s: float) -> list[tuple[float, str, float, str]]:
        engine = RunEngine(load_catalogue(), load_rules(), every)
        said = []
        engine.start()
        for batch in hip.batches(batch_s):
            for e in engine.feed(batch):
                if isinstance(e, CueSpoken) and e.id in ("checkin", "split-time"):
                    said.append((e.t, e.id, engine.running_s, engine.state.value))
        engine.finish()
        return said

    said = scheduled(0.2)
    checkins = [running for _, cue, running, _ in said if cue == "checkin"]
    splits = [running for _, cue, running, _ in said if cue == "split-time"]
    # Every 2 and 5 minutes of running (the coach may wait a moment for a turn to speak),
    # the run's stops in between not counted; none while the run is paused.
    assert len(checkins) >= 6 and len(splits) >= 3
    for interval, times in ((120, checkins), (300, splits)):
        assert [round(r // interval) for r in times] == list(range(1, len(times) + 1))
        assert all(r % interval < 25 for r in times)
    assert all(state != "paused" for *_, state in said)
    assert [t for t, *_ in said] == sorted(t for t, *_ in said)
    # The same moments however the samples come (a live run's small batches, a replay's big).
    assert [(t, cue) for t, cue, *_ in scheduled(10.0)] == [(t, cue) for t, cue, *_ in said]


def test_a_run_connects_before_it_warms_up() -> None:
    """Nothing is said about warming up until a sensor sends data; a run whose sensors do not
    answer says so once, and each sensor is named once when it connects."""
    engine = RunEngine(load_catalogue(), load_rules())
    events = engine.start(0.0)
    for t in range(1, 40):
        events += engine.coach_tick(float(t))
    events += engine.feed(SensorStatus(40.0, "H10", "chest", Link.CONNECTED))
    events += engine.feed(SensorStatus(40.5, "Stryd", "footpod", Link.CONNECTED))
    for t in range(41, 48):
        events += engine.coach_tick(float(t))
    for t in range(48, 60):  # the footpod's data from 48 s on: the runner runs
        events += engine.feed(FootpodSample(float(t), 3.0, 170.0, 1.0, 3.0 * (t - 48)))
        events += engine.coach_tick(float(t))
    states = [(e.t, e.state) for e in of(StateChanged, events)]
    assert states == [(0.0, "connecting"), (48.0, "warmup")]
    said = [(e.t, e.text) for e in of(CueSpoken, events)]
    assert [text for _, text in said] == [
        "No sensor answers yet. Are they on, and near?",
        "Chest strap connected.",
        "Footpod connected.",
        "Warm up easy. I'm learning your form.",
    ]
    assert said[0][0] == 15.0 and said[-1][0] >= 48.0
    assert [e.t for e in events] == sorted(e.t for e in events)


def test_a_trunk_sensor_gone_quiet_pauses_the_run_when_it_goes_quiet(running_data: Path) -> None:
    """A live run hears nothing from its trunk sensor: it pauses then (a few seconds on), in
    time order with the sensor's own news, not when the data comes back."""
    hip = load_recording(OUTDOOR).track("hip")
    engine = RunEngine(load_catalogue(), load_rules())
    events = engine.start(0.0)
    for batch in hip.batches(0.2):
        t = float(batch.t[0])
        if 230 <= t < 260:
            continue  # the strap dropped out for 30 s in the middle of running
        if t >= 300:
            break
        events += engine.feed(batch)
        events += engine.coach_tick(t)
        if t == 229.8:
            events += engine.feed(SensorStatus(230.0, "hip", "pelvis", Link.LOST))
            for tick in range(230, 260):
                events += engine.coach_tick(float(tick))
            events += engine.feed(SensorStatus(259.9, "hip", "pelvis", Link.BACK))
    shown = [(e.t, e.kind, getattr(e, "state", getattr(e, "link", None))) for e in events]
    assert [e[0] for e in shown] == sorted(e[0] for e in shown)
    paused = [t for t, kind, what in shown if kind == "state" and what == "paused"]
    assert paused and 230 < paused[0] <= 236
    assert any(kind == "state" and what == "running" and t >= 260 for t, kind, what in shown)


def test_a_sensor_back_before_its_loss_was_said_is_no_news() -> None:
    """A sensor gone and back while the coach was still talking: the runner hears neither,
    rather than "lost" about a sensor that is already back."""
    engine = RunEngine(load_catalogue(), load_rules())
    events = engine.start(0.0)
    feed = [
        SensorStatus(1.0, "H10", "chest", Link.CONNECTED),  # said at once, for 2 s or so
        SensorStatus(2.0, "H10", "chest", Link.LOST),
        SensorStatus(3.0, "H10", "chest", Link.BACK),  # before "lost" had its turn
        SensorStatus(30.0, "H10", "chest", Link.LOST),  # and now for long enough
        SensorStatus(50.0, "H10", "chest", Link.BACK),
    ]
    for t in range(70):
        while feed and feed[0].t <= t:
            events += engine.feed(feed.pop(0))
        events += engine.coach_tick(float(t))
    said = [(e.t, e.text) for e in of(CueSpoken, events)]
    assert [text for _, text in said] == [
        "Chest strap connected.",
        "Chest strap lost. I'll keep trying.",
        "Chest strap is back.",
    ]
    assert said[1][0] == 30.0 and said[2][0] == 50.0


def test_a_pause_while_connecting_holds_the_run_once_data_comes() -> None:
    engine = RunEngine(load_catalogue(), load_rules())
    engine.start(0.0)
    engine.pause(2.0)
    states = [e.state for e in of(StateChanged, engine.coach_tick(5.0))]
    states += [e.state for e in of(StateChanged, engine.feed(FootpodSample(8.0, 3.0, 170.0)))]
    assert (engine.state.value, states) == ("paused", ["paused"])
    engine.resume(9.0)
    assert engine.state.value == "warmup"
    again = RunEngine(load_catalogue(), load_rules())
    again.start(0.0)
    again.pause(1.0)
    again.resume(2.0)  # no data yet: still connecting, and the warm-up still to be said
    assert again.state.value == "connecting"
    said = []
    for t in range(20, 32):  # then the footpod, running
        said += of(CueSpoken, again.feed(FootpodSample(float(t), 3.0, 170.0)))
        said += of(CueSpoken, again.coach_tick(float(t)))
    assert "Warm up easy. I'm learning your form." in [c.text for c in said]


@pytest.mark.parametrize(("percent", "warned"), [(16, False), (15, True), (14, True)])
def test_a_battery_is_low_at_15_percent_or_less(percent: int, warned: bool) -> None:
    """README: "A low battery (15 % or less) is said once": 15 % warns, 16 % does not."""
    engine = RunEngine(load_catalogue(), load_rules())  # the product's own settings
    events = engine.start(0.0)
    events += engine.feed(SensorStatus(1.0, "H10", "chest", Link.CONNECTED))
    events += engine.feed(BatteryLevel(10.0, "H10", "chest", percent))
    for t in range(11, 40):
        events += engine.coach_tick(float(t))
    said = [(e.t, e.id, e.text) for e in of(CueSpoken, events)]
    assert said == [(1.0, "sensor-connected", "Chest strap connected.")] + (
        [(10.0, "battery-low", "Chest strap battery low.")] if warned else []
    )
    assert [(e.t, e.percent) for e in of(Battery, events)] == [(10.0, percent)]
