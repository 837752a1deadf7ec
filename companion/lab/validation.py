"""How well the analysis and the drift detector do on the real recordings in tests/data.

Used by `bench/validation.py` (which prints the table for BENCHMARKS.md) and by the tests
(which hold the goals as thresholds):

- cadence against ground truth: the force plates' step rate on each treadmill trial, and the
  ankle sensor (an independent per-stride reference) window by window on the outdoor run;
- detection delay: drifts of four kinds and two sizes injected into the real outdoor run
  (labelled as such), from the moment the drift reaches its rule's threshold to the start
  of the episode;
- false drift episodes on the unaltered run, per hour of judged running;
- the same for what the test data cannot show (a chest sensor, gyroscope angles, the
  lumbar arch between two sensors), on made-up chest and pelvis sensors whose motion is the
  real run's with known angles added (see `synthetic`), labelled as such everywhere.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from companion.coaching.engine import EngineSettings, RunEngine
from companion.coaching.events import Event
from companion.coaching.summary import RunStats
from companion.form.alignment import BodyFrame
from companion.form.analysis import FormAnalysis
from companion.form.drift import BaselineLearner, DriftDetector
from companion.form.record import Episode
from companion.form.rules import DriftRule, load_rules
from companion.form.steps import find_steps, step_frequency, step_lowpass, step_metrics
from companion.form.trunk import AnalysisSettings, TrunkAnalyzer
from companion.lab.synthetic import Ramp, Segment, make_segment
from companion.run.inject import FormFault, inject_fault
from cues.catalogue import load_catalogue
from cues.faults import Fault
from sensors.recorded.recording import AccelTrack, Recording, load_recording, timed_samples
from sensors.samples import FloatArray, Placement

CHUNK_S = 10.0  # batches of this size: the results are the same as for any other size


def vertical(xyz: FloatArray) -> FloatArray:
    mean = xyz.mean(axis=0)
    v: FloatArray = (xyz - mean) @ (mean / np.linalg.norm(mean))
    return v


@dataclass(frozen=True)
class Check:
    """A measure against a reference over trials or windows."""

    recording: str
    reference: str
    compared: int  # trials or windows
    errors: FloatArray  # ours minus the reference, in the measure's unit

    @property
    def mae(self) -> float:
        return float(np.mean(np.abs(self.errors)))

    @property
    def worst(self) -> float:
        return float(np.max(np.abs(self.errors)))


def treadmill_trials(treadmill: Path, trials: Path) -> Iterator[tuple[dict[str, str], AccelTrack]]:
    """Each trial's ground-truth row and its sacral track."""
    with trials.open() as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        yield row, load_recording(treadmill, trial=int(row["trial"])).track("sacrum")


def cadence_on_treadmill(treadmill: Path, trials: Path) -> Check:
    """Each 5 s trial as one window, against the step rate of the force-plate contacts."""
    errors = [
        60 * step_frequency(vertical(track.xyz), track.rate_hz) - float(row["gt_step_freq_spm"])
        for row, track in treadmill_trials(treadmill, trials)
    ]
    return Check(treadmill.name, "force plates", len(errors), np.array(errors))


def contact_on_treadmill(treadmill: Path, trials: Path) -> Check:
    """Ground contact time per step (median per trial, ms) against the force plates'."""
    errors = []
    for row, track in treadmill_trials(treadmill, trials):
        fs = track.rate_hz
        v = vertical(track.xyz) + np.linalg.norm(track.xyz.mean(axis=0))  # gravity kept
        sos = step_lowpass(fs)
        smooth, _ = signal.sosfilt(sos, v, zi=signal.sosfilt_zi(sos) * v[0])
        steps = find_steps(v, fs)
        _, contact = step_metrics(v, smooth[steps[1:]], steps[:-1], steps[1:], fs)
        errors.append(float(np.median(contact)) - 1000 * float(row["gt_contact_time_s"]))
    return Check(treadmill.name, "force plates", len(errors), np.array(errors))


def trunk_windows(track: AccelTrack) -> list[tuple[float, float]]:
    """(end, cadence) of every running window of one trunk sensor."""
    analyzer = TrunkAnalyzer(track.sensor, track.placement)
    return [
        (w.t, w.cadence_spm)
        for batch in track.batches(CHUNK_S)
        for w in analyzer.feed(batch)
        if w.running and w.cadence_spm is not None
    ]


def cadence_against_ankle(outdoor: Path) -> Check:
    """The hip's window cadence against twice the ankle's stride rate in the same window."""
    rec = load_recording(outdoor)
    ankle = rec.track("ankle")
    errors = []
    for end, spm in trunk_windows(rec.track("hip")):
        sel = (ankle.t > end - 10.0) & (ankle.t <= end)
        reference = 120 * step_frequency(vertical(ankle.xyz[sel]), ankle.rate_hz, (0.9, 2.1))
        errors.append(spm - reference)
    return Check(outdoor.name, "ankle sensor", len(errors), np.array(errors))


@dataclass(frozen=True)
class Injection:
    kind: str  # which rule it should trip
    size: float  # times the rule's threshold
    fault: FormFault
    metric: str  # source.metric of that rule
    expected: Fault
    threshold_t: float  # when the injected change reaches the rule's threshold


# Where the injected drifts go: well inside two long running bouts of the outdoor run.
BOUT_STARTS = (560.0, 1040.0)
KINDS = ("lean", "overstride", "bounce", "braking")
SIZES = (1.5, 2.5)  # times the rule's threshold


def _rule(rules: tuple[DriftRule, ...], metric: str, direction: str) -> DriftRule:
    return next(r for r in rules if r.metric == metric and r.direction == direction)


def injections(
    rules: tuple[DriftRule, ...], starts: tuple[float, ...] = BOUT_STARTS
) -> Iterator[Injection]:
    """Every kind at every size in every bout, each alone in an otherwise real run."""
    for start in starts:
        for kind in KINDS:
            for size in SIZES:
                base = FormFault(
                    start_s=start, ramp_s=30.0, hold_s=90.0, release_s=20.0,
                    tilt_deg=0.0, step_lengthening=0.0,
                )  # fmt: skip
                crossing = 1 / size  # the share of the ramp at which it reaches the threshold
                if kind == "lean":
                    rule = _rule(rules, "lean_deg", "above")
                    fault = replace(base, tilt_deg=size * rule.threshold)
                elif kind == "overstride":
                    rule = _rule(rules, "cadence_spm", "below")
                    # Stretching time by k lowers the cadence by k / (1 + k); the landings
                    # grow harder with it, by the braking rule's clear band at the cadence
                    # threshold (the rule needs both).
                    drop = size * rule.threshold
                    stretch = drop / (1 - drop)
                    harder = size * _rule(rules, "braking_g", "above").clear
                    fault = replace(base, step_lengthening=stretch, braking_gain=harder)
                    crossing = rule.threshold / (1 - rule.threshold) / stretch
                elif kind == "bounce":
                    rule = _rule(rules, "bounce_cm", "above")
                    fault = replace(base, bounce_gain=size * rule.threshold)
                else:
                    rule = _rule(rules, "braking_g", "above")
                    fault = replace(base, braking_gain=size * rule.threshold)
                yield Injection(
                    kind=kind,
                    size=size,
                    fault=fault,
                    metric=f"pelvis.{rule.metric}",
                    expected=rule.faults["pelvis"],
                    threshold_t=start + fault.ramp_s * crossing,
                )


def engine_run(
    run: AccelTrack | Recording, settings: EngineSettings | None = None
) -> tuple[list[Event], RunStats]:
    """Every event of the engine over a run, and its totals."""
    s = settings or EngineSettings(analysis=replace(AnalysisSettings(), sensor_wait_s=CHUNK_S + 5))
    engine = RunEngine(load_catalogue(), load_rules(), s)
    events = engine.start()
    recording = run if isinstance(run, Recording) else Recording(run.sensor, (run,))
    for _, sample in timed_samples(recording, CHUNK_S):
        events += engine.feed(sample)
    last, stats = engine.finish()
    return events + last, stats


def engine_episodes(
    run: AccelTrack | Recording, settings: EngineSettings | None = None
) -> tuple[list[Episode], float]:
    """The drift episodes the engine finds in a run, and the seconds of running judged."""
    _, stats = engine_run(run, settings)
    return list(stats.episodes), stats.judged_s


@dataclass(frozen=True)
class Detection:
    injection: Injection
    delay_s: float | None  # None: never detected
    others: tuple[str, ...]  # other episodes during the injection (metric names)


def detection(inj: Injection, episodes: list[Episode], end_s: float) -> Detection:
    during = [e for e in episodes if inj.fault.start_s <= e.start <= end_s + 30]
    hit = [e for e in during if e.metric == inj.metric and e.fault is inj.expected]
    delay = hit[0].start - inj.threshold_t if hit else None
    others = tuple(e.metric for e in during if e not in hit[:1])
    return Detection(inj, delay, others)


def detect(
    run: AccelTrack,
    forward_axis: tuple[float, float, float],
    starts: tuple[float, ...] = BOUT_STARTS,
    braking_with_tilt: float = 0.0,
) -> list[Detection]:
    """Each injection into the real run, alone, and whether and when it was found; a tilt
    comes with `braking_with_tilt` more braking when given."""
    out = []
    for inj in injections(load_rules(), starts):
        fault = replace(inj.fault, forward_axis=forward_axis)
        if inj.kind == "lean" and braking_with_tilt:
            fault = replace(fault, braking_gain=braking_with_tilt)
        episodes, _ = engine_episodes(inject_fault(run, fault))
        out.append(detection(replace(inj, fault=fault), episodes, fault.end_s))
    return out


# The made-up pair: a pelvis tipped forward and a chest held a little forward, each with
# the swings of running (ranges per stride), mounted at arbitrary angles.
PELVIS = Segment(
    "pelvis", Placement.PELVIS, lean_deg=8.0, drop_deg=7.0, rotation_deg=10.0,
    mounting=Rotation.from_euler("xyz", [20, -70, 35], degrees=True).as_matrix(),
)  # fmt: skip
CHEST = Segment(
    "chest", Placement.CHEST, lean_deg=5.0, drop_deg=2.0, rotation_deg=14.0,
    mounting=Rotation.from_euler("xyz", [-90, 10, 170], degrees=True).as_matrix(),
)  # fmt: skip
SYNTHETIC_KINDS = ("lumbar arch", "pelvic drop", "chest rotation", "chest lean")


def synthetic_pair(
    hip: AccelTrack, frame: BodyFrame, pelvis: Segment = PELVIS, chest: Segment = CHEST
) -> Recording:
    """Chest and pelvis sensors with gyroscopes, made from the real hip run (see
    `synthetic`): test motion with known angles, not a recording."""
    (pa, pg), (ca, cg) = make_segment(hip, frame, pelvis), make_segment(hip, frame, chest)
    return Recording(
        "made-up chest and pelvis sensors on the real outdoor run",
        (pa, ca),
        gyro=(pg, cg),
        notes=("Test motion: the real run's acceleration with known angles added.",),
    )


def synthetic_injections(
    rules: tuple[DriftRule, ...], starts: tuple[float, ...] = BOUT_STARTS
) -> Iterator[tuple[Injection, Segment, Segment]]:
    """Drifts only a chest sensor, a gyroscope or both sensors together can show."""
    for start in starts:
        for kind in SYNTHETIC_KINDS:
            for size in SIZES:
                pelvis, chest = PELVIS, CHEST
                if kind == "lumbar arch":
                    rule = _rule(rules, "lumbar_arch_deg", "above")
                    half = size * rule.threshold / 2  # the pelvis tips, the ribs flare
                    pelvis = replace(pelvis, lean_drift=(Ramp(start, half),))
                    chest = replace(chest, lean_drift=(Ramp(start, -half),))
                    metric, source = "spine.lumbar_arch_deg", "spine"
                elif kind == "pelvic drop":
                    rule = _rule(rules, "pelvic_drop_deg", "above")
                    pelvis = replace(pelvis, drop_drift=(Ramp(start, size * rule.threshold),))
                    metric, source = "pelvis.pelvic_drop_deg", "pelvis"
                elif kind == "chest rotation":
                    rule = _rule(rules, "rotation_deg", "above")
                    grow = size * rule.threshold * chest.rotation_deg
                    chest = replace(chest, rotation_drift=(Ramp(start, grow),))
                    metric, source = "chest.rotation_deg", "chest"
                else:
                    rule = _rule(rules, "lean_deg", "above")
                    chest = replace(chest, lean_drift=(Ramp(start, size * rule.threshold),))
                    metric, source = "chest.lean_deg", "chest"
                ramp = Ramp(start, 1.0)
                # Only its timing: the angles are in the segments.
                timing = FormFault(
                    start_s=start, ramp_s=ramp.ramp_s, hold_s=ramp.hold_s,
                    release_s=ramp.release_s, tilt_deg=0.0, step_lengthening=0.0,
                )  # fmt: skip
                inj = Injection(
                    kind=kind,
                    size=size,
                    fault=timing,
                    metric=metric,
                    expected=rule.faults[source],
                    threshold_t=start + ramp.ramp_s / size,
                )
                yield inj, pelvis, chest


def detect_synthetic(
    hip: AccelTrack, frame: BodyFrame, starts: tuple[float, ...] = BOUT_STARTS
) -> list[Detection]:
    out = []
    for inj, pelvis, chest in synthetic_injections(load_rules(), starts):
        episodes, _ = engine_episodes(synthetic_pair(hip, frame, pelvis, chest))
        out.append(detection(inj, episodes, inj.fault.end_s))
    return out


def body_frame_of(track: AccelTrack) -> BodyFrame:
    """The body axes the analysis learns from a track."""
    analyzer = TrunkAnalyzer(track.sensor, track.placement)
    for batch in track.batches(CHUNK_S):
        analyzer.feed(batch)
        if analyzer.frame is not None:
            return analyzer.frame
    raise ValueError("the run never settled into running")


def forward_turns(track: AccelTrack) -> list[float]:
    """How far the forward axis turned at each of the analysis's fresh estimates."""
    analyzer = TrunkAnalyzer(track.sensor, track.placement)
    return [
        w.forward_turn_deg
        for batch in track.batches(CHUNK_S)
        for w in analyzer.feed(batch)
        if w.forward_turn_deg is not None
    ]


def forward_axis_of(hip: AccelTrack) -> tuple[float, float, float]:
    """The hip sensor's forward axis, as the analysis learns it."""
    f = body_frame_of(hip).forward
    return (float(f[0]), float(f[1]), float(f[2]))


@dataclass(frozen=True)
class Margin:
    bout: tuple[float, float]
    rule: DriftRule
    source: str
    sustained: float | None  # the largest excess held for the rule's persistence


def outdoor_margins(hip: AccelTrack, bouts: list[tuple[float, float]]) -> list[Margin]:
    """How close the unaltered run comes to each rule's threshold, bout by bout: the
    largest excess that held for the rule's whole persistence time."""
    rules = load_rules()
    analysis = FormAnalysis()
    learner = BaselineLearner()
    detector: DriftDetector | None = None
    running = 0.0
    series: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for batch in hip.batches(CHUNK_S):
        for w in analysis.feed(batch):
            if not w.running:
                if detector is not None:
                    detector.pause()
                continue
            running += 1.0
            if detector is None:
                baseline = learner.add(w, running)
                detector = DriftDetector(rules, baseline) if baseline else None
                continue
            detector.update(w)
            for i, rule in enumerate(rules):
                found = detector.excess(w, rule, Placement.PELVIS.value)
                if found is not None:
                    series.setdefault((i, rule.metric), []).append((w.t, found[0]))
    out = []
    for bout in bouts:
        for (i, _), points in series.items():
            if Placement.PELVIS.value not in rules[i].faults:
                continue
            t = np.array([p[0] for p in points])
            x = np.array([p[1] for p in points])
            inside = (t >= bout[0]) & (t <= bout[1])
            hold = round(rules[i].persist_s)
            held = None
            if inside.sum() > hold:
                xs = x[inside]
                held = float(np.max([xs[j : j + hold + 1].min() for j in range(xs.size - hold)]))
            out.append(Margin(bout, rules[i], Placement.PELVIS.value, held))
    return out


def outdoor_bouts(path: Path) -> list[tuple[float, float]]:
    with path.open() as fh:
        return [(float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(fh)]


@dataclass(frozen=True)
class RockingBias:
    """How the chest's lean reading moves when its rocking grows, with and without its
    gyroscope, against the pelvis's (which does not rock): test motion."""

    pelvis: float  # the runner's own posture change, degrees
    with_gyroscope: float
    accelerometer_only: float


def rocking_bias(hip: AccelTrack, frame: BodyFrame, at_s: float = 560.0) -> RockingBias:
    """The made-up chest's rocking grows from 2 to 8 degrees a step at `at_s` (as at a faster
    pace) while its lean stays: the median lean over 100 s before and after."""
    chest = replace(CHEST, rock_deg=2.0, rock_drift=(Ramp(at_s, 6.0),))
    until = hip.t <= at_s + 150  # all that is compared
    hip = AccelTrack(hip.sensor, hip.placement, hip.t[until], hip.xyz[until])
    pair = synthetic_pair(hip, frame, PELVIS, chest)

    def change(recording: Recording, name: str) -> float:
        analysis = FormAnalysis()
        windows = []
        for _, sample in timed_samples(recording, CHUNK_S):
            windows += analysis.feed(sample)

        def median(lo: float, hi: float) -> float:
            values = [w.values.get(name) for w in windows if lo < w.t <= hi]
            return float(np.median([v for v in values if v is not None]))

        return median(at_s + 40, at_s + 140) - median(at_s - 260, at_s - 160)

    accel_only = Recording(pair.name, pair.accel, notes=pair.notes)
    return RockingBias(
        change(pair, "pelvis.lean_deg"),
        change(pair, "chest.lean_deg"),
        change(accel_only, "chest.lean_deg"),
    )
