"""The run engine: samples in, events out. Analysis → baseline and drift → coach.

A sans-IO state machine (in the manner of h11): the caller feeds samples from any source
and acts on the events that come back (shows them, speaks the cues). The run clock is the
samples' own time, so a replay at any speed decides exactly as the live run would.

States: connecting (until a sensor sends data) → warmup (learning the baseline) → running
⇄ paused (the runner stopped or walks, or asked for a pause), then finished. In-run
announcements (check-ins, splits by time and distance, the heart rate) are due by running
time (companion/coaching/timetable.py), so they come at the same moments of the run however fast it
is replayed, and never while it is paused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from companion.coaching.coach import Coach, CoachSettings, Utterance, estimate_duration
from companion.coaching.events import (
    BaselineLearned,
    Battery,
    Calibrated,
    CueSpoken,
    DriftEnded,
    DriftStarted,
    Event,
    Metrics,
    MetronomeTicks,
    SensorChanged,
    SensorMoved,
    StateChanged,
    TerrainChanged,
)
from companion.coaching.files import check_fit
from companion.coaching.spoken import spoken_distance, spoken_duration, spoken_pace
from companion.coaching.summary import RunStats, cue_results
from companion.coaching.timetable import Timetable
from companion.form.analysis import FormAnalysis, FormWindow
from companion.form.drift import Baseline, BaselineLearner, DriftDetector, overstride_pct
from companion.form.metrics import FOOTPOD, key
from companion.form.record import Episode, Second
from companion.form.rules import DriftRule
from companion.form.trunk import AnalysisSettings
from cues.catalogue import Catalogue, Category
from cues.faults import Fault
from sensors.profiles import spoken_name
from sensors.samples import (
    AccelBatch,
    BatteryLevel,
    FootpodSample,
    HeartRateSample,
    Link,
    Placement,
    Sample,
    SensorStatus,
)


def _first_time(sample: Sample, default: float) -> float:
    """When `sample` (a batch: its first sample) was taken."""
    t = sample.t
    if isinstance(t, float | int):
        return float(t)
    return float(t[0]) if len(t) else default


class RunState(StrEnum):
    CONNECTING = "connecting"  # no sensor has sent data yet
    WARMUP = "warmup"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


@dataclass(frozen=True)
class EngineSettings:
    warmup_s: float = 60.0  # running before the baseline is learned from...
    baseline_s: float = 120.0  # ... this much more running
    pause_after_s: float = 4.0  # not running this long pauses the run
    connect_wait_s: float = 15.0  # no sensor has sent anything this long: say so
    metrics_every_s: float = 10.0
    battery_low_percent: int = 15
    metronome_beats: int = 0  # ticks at the baseline cadence after an overstriding cue; 0: off
    split_m: float = 0.0  # a split announced every this many metres of footpod distance; 0: off
    checkin_s: float = 0.0  # a posture check-in every this many seconds of running; 0: off
    split_s: float = 0.0  # time and cadence (or distance and pace) every this much running
    heart_rate_s: float = 0.0  # the heart rate every this much running; 0: off
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    coach: CoachSettings = field(default_factory=CoachSettings)


class RunEngine:
    def __init__(
        self,
        catalogue: Catalogue,
        rules: tuple[DriftRule, ...],
        settings: EngineSettings | None = None,
        duration_of: Callable[[str], float] = estimate_duration,
        slopes: dict[str, float] | None = None,
    ):
        self.settings = s = settings or EngineSettings()
        check_fit(catalogue, rules)  # a ConfigurationError if they do not fit together
        self.rules = rules
        self.slopes = slopes or {}  # the runner's own change per m/s, from their runs
        self.coach = Coach(catalogue, s.coach, duration_of)
        self.analysis = FormAnalysis(s.analysis)
        self.learner = BaselineLearner(s.warmup_s, s.baseline_s)
        self.state = RunState.CONNECTING
        self._started_at = 0.0
        self._connected: set[str] = set()  # the sensors said to be connected
        self._said_none = False  # that no sensor answers
        self.baseline: Baseline | None = None
        self.detector: DriftDetector | None = None
        self._terrain = "level"
        self.episodes: list[Episode] = []
        self.cues: list[CueSpoken] = []
        self.running_s = 0.0
        self._judged_s = 0.0
        self._held_s = 0.0
        self._cadences: list[float] = []
        self._steps = 0
        self._stopped_since: float | None = None
        self._ever_ran = False
        self._last_t = 0.0
        self._now = 0.0  # the latest moment of the run the engine has been told of
        self._shown_t = 0.0  # the time of the latest event given out
        self._motion_t = 0.0  # the latest sample of a trunk sensor or the footpod
        self._next_metrics = 0.0
        self._timetable = Timetable(
            {"checkin": s.checkin_s, "split": s.split_s, "heart-rate": s.heart_rate_s}
        )
        self._calibrated: set[str] = set()
        self._speed: float | None = None
        self._distance: float | None = None
        self._distance0: float | None = None  # the footpod's count when the run began
        self._next_split_m = s.split_m
        self._held = False  # paused by the runner, not by stopping
        self._heart_rates: list[float] = []
        self._lost: set[str] = set()
        self._low_battery: set[str] = set()
        self.on_second: Callable[[Second], None] | None = None  # sees every judged window

    def start(self, t: float = 0.0) -> list[Event]:
        """The run begins, connecting until its sensors send data."""
        self._started_at = t = self._at(t)
        return self._in_order([StateChanged(t=t, state=self.state.value)])

    @property
    def now(self) -> float:
        """The run's time as far as the engine knows: its latest sample or tick."""
        return self._now

    def _at(self, t: float) -> float:
        """`t`, or the run's time if that is later: the events of one run never go back in
        time, whoever stamps them (a sensor's own timestamps, or a control from outside)."""
        self._now = max(self._now, t)
        return self._now

    def _in_order(self, events: list[Event]) -> list[Event]:
        """`events` stamped no earlier than anything shown before: what the engine learns
        late (a window completed after a later sensor note) is shown when it was learned."""
        out = []
        for e in events:
            if e.t < self._shown_t:
                e = replace(e, t=self._shown_t)
            self._shown_t = e.t
            out.append(e)
        return out

    def feed(self, sample: Sample) -> list[Event]:
        t = sample.t
        if not isinstance(t, float | int):  # a batch: its last sample's time
            t = float(t[-1]) if len(t) else self._now
        self._at(t)
        moving = isinstance(sample, FootpodSample) or (
            isinstance(sample, AccelBatch) and sample.placement is not Placement.OTHER
        )
        if moving:  # what shows the runner running or stopped has spoken
            self._motion_t = max(self._motion_t, t)
        return self._in_order(self._feed(sample))

    def _feed(self, sample: Sample) -> list[Event]:
        if isinstance(sample, SensorStatus):
            return self._link(sample)
        if isinstance(sample, BatteryLevel):
            return self._battery(sample)
        if self.state is RunState.CONNECTING:  # the first data: warm-up begins
            return self._first_data(_first_time(sample, self._now)) + self._feed(sample)
        if isinstance(sample, HeartRateSample):
            self._heart_rates.append(sample.bpm)
            return []
        if isinstance(sample, FootpodSample):
            self._speed = sample.speed_mps if sample.speed_mps is not None else self._speed
            if sample.distance_m is not None:
                self._distance = sample.distance_m
                if self._distance0 is None:
                    self._distance0 = sample.distance_m
        events: list[Event] = []
        if isinstance(sample, FootpodSample) and self._distance_split(sample.t):
            events += self._say(sample.t)
        for w in self.analysis.feed(sample):
            events += self._on_window(w)
        return events

    def _first_data(self, t: float) -> list[Event]:
        """A sensor sent its first data: say that the first minutes are for learning."""
        self.coach.announce("warmup", t)
        return self._set_state(RunState.PAUSED if self._held else RunState.WARMUP, t) + self._say(t)

    @property
    def distance_m(self) -> float | None:
        """Metres run so far, by the footpod."""
        if self._distance is None or self._distance0 is None:
            return None
        return self._distance - self._distance0

    @property
    def sensor(self) -> str | None:
        """The trunk sensor whose steps and stops the run follows."""
        return self.analysis.lead

    def _link(self, s: SensorStatus) -> list[Event]:
        """Say once that a sensor connected, once that it was lost, and once that it is back."""
        lost = s.link is Link.LOST
        if s.link is Link.CONNECTED and s.sensor not in self._connected:
            self._connected.add(s.sensor)
            self.coach.announce("sensor-connected", s.t, sensor=spoken_name(s.role))
        elif lost != (s.sensor in self._lost) and s.link is not Link.CONNECTED:
            if lost:
                self._lost.add(s.sensor)
            else:
                self._lost.discard(s.sensor)
            # Gone and back before the runner heard it went (or the other way round): the
            # news not yet said is no longer true, and this puts things as they last heard.
            name = spoken_name(s.role)
            if lost and not self.coach.withdraw("sensor-back", sensor=name):
                self.coach.announce("sensor-lost", s.t, sensor=name)
            elif not lost and not self.coach.withdraw("sensor-lost", sensor=name):
                self.coach.announce("sensor-back", s.t, sensor=name)
        return [SensorChanged(t=s.t, id=s.sensor, role=s.role, link=s.link.value), *self._say(s.t)]

    def _battery(self, b: BatteryLevel) -> list[Event]:
        """Say once per run that a sensor's battery is low."""
        if b.percent <= self.settings.battery_low_percent and b.sensor not in self._low_battery:
            self._low_battery.add(b.sensor)
            self.coach.announce("battery-low", b.t, sensor=spoken_name(b.role))
        return [Battery(t=b.t, id=b.sensor, role=b.role, percent=b.percent), *self._say(b.t)]

    def _on_window(self, w: FormWindow) -> list[Event]:
        if self.baseline is not None and w.running:
            indicator = overstride_pct(w, self.baseline, self.rules)
            if indicator is not None:
                w.values[key(FOOTPOD, "overstride_pct")] = indicator
        hop = self.settings.analysis.hop_s
        events: list[Event] = []
        self._last_t = w.t
        judged_before = self._judged_s
        if self._held:
            pass  # the runner paused the run: analysed, but neither counted nor judged
        elif w.running:
            self._ever_ran = True
            self._stopped_since = None
            if self.state is RunState.PAUSED:
                events += self._set_state(
                    RunState.RUNNING if self.baseline else RunState.WARMUP, w.t
                )
            self.running_s += hop
            self._queue_due(w.t)
            self._steps += len(w.steps)
            if w.cadence_spm is not None:
                self._cadences.append(w.cadence_spm)
            for name, trunk in self.analysis.trunk.items():
                frame = None if name in self._calibrated else trunk.frame_by(w.t)
                if frame is not None:
                    self._calibrated.add(name)
                    events.append(Calibrated(t=w.t, sensor=name, **frame.to_dict()))
            events += self._judge(w)
        elif self._ever_ran and self.state is not RunState.PAUSED:
            self._stopped_since = w.t if self._stopped_since is None else self._stopped_since
            if w.t - self._stopped_since >= self.settings.pause_after_s:
                # Stamped when a live run would have known, also across a gap in the data.
                since = self._stopped_since + self.settings.pause_after_s
                events += self._set_state(RunState.PAUSED, since)
        if w.t >= self._next_metrics:
            self._next_metrics = w.t + self.settings.metrics_every_s
            events.append(self._metrics(w))
        if self.on_second is not None:
            self.on_second(self._second(w, judged_before))
        return events + self._say(w.t)

    def _second(self, w: FormWindow, judged_before: float) -> Second:
        counted = w.running and not self._held
        return Second(
            t=w.t,
            running=counted,
            judged=self._judged_s > judged_before,
            drifting=self.detector is not None and bool(self.detector.open_episodes),
            cadence_spm=w.cadence_spm if counted else None,
            speed_mps=self._speed,
            distance_m=self.distance_m,
            heart_rate_bpm=self._heart_rates[-1] if self._heart_rates else None,
            values=dict(w.values),
            steps=w.steps,
        )

    def _judge(self, w: FormWindow) -> list[Event]:
        if self.detector is None:
            baseline = self.learner.add(w, self.running_s)
            if baseline is None:
                return []
            self.baseline = baseline
            self.detector = DriftDetector(self.rules, baseline, slopes=self.slopes)
            self.coach.announce("baseline-set", w.t)
            return [
                BaselineLearned(
                    t=w.t,
                    values=dict(baseline.values),
                    spread=dict(baseline.spread),
                    slopes=dict(self.slopes),
                ),
                *self._set_state(RunState.RUNNING, w.t),
            ]
        events: list[Event] = []
        for change in self.detector.update(w):
            if change.started:
                self.episodes.append(change.episode)
                self.coach.drift_started(change.episode)
                events.append(DriftStarted.of(change.episode, w.t))
            else:
                self.coach.drift_ended(change.episode, w.t)
                events.append(DriftEnded.of(change.episode, w.t))
        for source, moved in self.detector.remounts:
            self.analysis.relearn_frame(source, moved.t)
            self._calibrated -= {
                n for n, a in self.analysis.trunk.items() if a.placement.value == source
            }
            events.append(SensorMoved(t=moved.t, source=source, why=moved.why))
        self.detector.remounts.clear()
        if self.detector.hill.value != self._terrain:
            self._terrain = self.detector.hill.value
            events.append(TerrainChanged(t=w.t, terrain=self._terrain))
        hop = self.settings.analysis.hop_s
        self._judged_s += hop
        if not self.detector.open_episodes:
            self._held_s += hop
        return events

    def coach_tick(self, t: float) -> list[Event]:
        """Time passes, samples or not (a live run calls this every second): say that no
        sensor answers, pause when the trunk sensor has gone quiet, and let the coach speak."""
        t = self._at(t)
        events: list[Event] = []
        waited = t - self._started_at >= self.settings.connect_wait_s
        unheard = self.state is RunState.CONNECTING and not self._connected
        if unheard and waited and not self._said_none:
            self._said_none = True
            self.coach.announce("no-sensor", t)
        # Every trunk sensor and the footpod silent (not one of two, whose windows wait
        # for the other): as far as the coach can tell, the runner has stopped.
        moving = self.state in (RunState.WARMUP, RunState.RUNNING)
        quiet = t - self._motion_t >= self.settings.pause_after_s
        if moving and self._ever_ran and not self._held and quiet:
            events += self._set_state(RunState.PAUSED, t)
        return self._in_order(events + self._say(t))

    # The runner's own controls: at run time `t`, or the engine's own time ---------------

    @property
    def held(self) -> bool:
        return self._held

    def pause(self, t: float | None = None) -> list[Event]:
        """The runner paused the run: it stays paused, moving or not, until `resume`."""
        t = self._at(self._now if t is None else t)
        self._held = True
        self._stopped_since = None
        # Still connecting, it stays so: held, it is paused when the first data comes.
        connecting = self.state is RunState.CONNECTING
        events = [] if connecting else self._set_state(RunState.PAUSED, t)
        self.coach.announce("run-paused", t)
        return self._in_order(events + self._say(t))

    def resume(self, t: float | None = None) -> list[Event]:
        t = self._at(self._now if t is None else t)
        self._held = False
        going = RunState.RUNNING if self.baseline else RunState.WARMUP
        connecting = self.state is RunState.CONNECTING
        events = [] if connecting else self._set_state(going, t)
        self.coach.announce("run-resumed", t)
        return self._in_order(events + self._say(t))

    # Announcements ----------------------------------------------------------------------

    def split(self, t: float) -> list[Event]:
        """Time and, with a footpod, distance and pace so far."""
        t = self._at(t)
        self._queue_split(t)
        return self._in_order(self._say(t))

    def heart_rate(self, t: float) -> list[Event]:
        """The latest heart rate, when a strap sends one."""
        t = self._at(t)
        self._queue_heart_rate(t)
        return self._in_order(self._say(t))

    def upcoming(self, horizon_s: float = 60.0) -> list[str]:
        """What the announcements on the way within `horizon_s` of running will most likely
        say: their words with the figures as they stand and a few either side, so that the
        speech can be rendered ahead and none waits on rendering. Decides nothing."""
        wanted: list[tuple[str, dict[str, str]]] = []
        run, distance = self.running_s, self.distance_m
        split_at = self._timetable.next_at("split")
        if distance and self.settings.split_m > 0 and run > 0:
            eta = (self._next_split_m - distance) * run / distance  # at the pace so far
            if 0 <= eta <= horizon_s:
                d = self._next_split_m
                for dt in (-4, -2, 0, 2, 4):  # pace is said to the second
                    pace = spoken_pace(d, run + eta + dt)
                    if pace:
                        duration = spoken_duration(run + eta + dt)
                        wanted.append(("split", {"distance": spoken_distance(d),
                                                 "time": duration, "pace": pace}))  # fmt: skip
        if split_at is not None and 0 <= split_at - run <= horizon_s and not distance:
            for c in self._near(self._cadences, 2):
                wanted.append(("split-time", {"time": spoken_duration(split_at), "cadence": c}))
        hr_at = self._timetable.next_at("heart-rate")
        if hr_at is not None and 0 <= hr_at - run <= horizon_s:
            wanted += [("heart-rate", {"bpm": bpm}) for bpm in self._near(self._heart_rates, 3)]
        catalogue = self.coach.catalogue
        return [
            wording.format(**fields)
            for cue_id, fields in wanted
            if cue_id in catalogue.cues
            for wording in catalogue[cue_id].say
        ]

    @staticmethod
    def _near(values: list[float], spread: int) -> list[str]:
        """The latest value, whole, and its neighbours within `spread`."""
        if not values:
            return []
        now = round(values[-1])
        return [f"{v}" for v in range(now - spread, now + spread + 1)]

    def _queue_due(self, t: float) -> None:
        """The announcements the timetable says are due by now, for the coach to say."""
        for name in self._timetable.due(self.running_s):
            if name == "checkin":
                self.coach.announce("checkin", t)
            elif name == "split":
                self._queue_split(t)
            else:
                self._queue_heart_rate(t)

    def _queue_split(self, t: float) -> None:
        distance = self.distance_m
        pace = spoken_pace(distance or 0.0, self.running_s)
        if distance and pace:
            self.coach.announce(
                "split",
                t,
                distance=spoken_distance(distance),
                time=spoken_duration(self.running_s),
                pace=pace,
            )
            return
        cadence = f"{self._cadences[-1]:.0f}" if self._cadences else "not known yet"
        self.coach.announce("split-time", t, time=spoken_duration(self.running_s), cadence=cadence)

    def _queue_heart_rate(self, t: float) -> None:
        if self._heart_rates:
            self.coach.announce("heart-rate", t, bpm=f"{self._heart_rates[-1]:.0f}")

    def _distance_split(self, t: float) -> bool:
        """Queue the split when the footpod's distance passed the next one."""
        distance = self.distance_m
        if self.settings.split_m <= 0 or distance is None or distance < self._next_split_m:
            return False
        while self._next_split_m <= distance:
            self._next_split_m += self.settings.split_m
        self._queue_split(t)
        return True

    def _set_state(self, state: RunState, t: float) -> list[Event]:
        if state is self.state:
            return []
        self.state = state
        paused = state is RunState.PAUSED
        self.coach.set_quiet(paused)
        if paused and self.detector is not None:
            self.detector.pause()
        return [StateChanged(t=t, state=state.value)]

    def _say(self, t: float) -> list[Event]:
        said: Utterance | None = self.coach.poll(t)
        if said is None:
            return []
        cue = CueSpoken(
            t=t,
            id=said.cue_id,
            text=said.text,
            category=said.category.value,
            about=said.about,
            episode=said.episode,
        )
        self.cues.append(cue)
        events: list[Event] = [cue]
        beats = self.settings.metronome_beats
        overstriding = said.category is Category.FORM and said.about == Fault.OVERSTRIDE.value
        if beats and overstriding and self.baseline is not None:
            # The rhythm the runner had before the steps got long, to fall back into.
            spm = next(
                (v for k, v in self.baseline.values.items() if k.endswith(".cadence_spm")), None
            )
            if spm is not None:
                events.append(MetronomeTicks(t=t, spm=spm, beats=beats))
        return events

    def _metrics(self, w: FormWindow) -> Metrics:
        lead = self.analysis.trunk.get(self.sensor or "")
        placement = lead.placement if lead else Placement.PELVIS
        return Metrics(
            t=w.t,
            running=w.running,
            running_s=self.running_s,
            cadence_spm=w.cadence_spm,
            lean_deg=w.lean_deg(placement),
            side_lean_deg=w.get(f"{placement}.side_lean_deg"),
            steps=self._steps,
            values=dict(w.values),
            speed_mps=self._speed,
            heart_rate_bpm=self._heart_rates[-1] if self._heart_rates else None,
        )

    def finish(self, t: float | None = None) -> tuple[list[Event], RunStats]:
        """End the run at `t` (default: the last sample's time): close open drifts and
        total it up."""
        events: list[Event] = []
        for w in self.analysis.flush():
            events += self._on_window(w)
        t = self._at(self._last_t if t is None else t)
        if self.detector is not None:
            for ep in self.detector.close(t):
                events.append(DriftEnded.of(ep, t))
        events += self._set_state(RunState.FINISHED, t)
        stats = RunStats(
            duration_s=t,
            running_s=self.running_s,
            cadence_spm=float(np.mean(self._cadences)) if self._cadences else None,
            judged_s=self._judged_s,
            held_s=self._held_s,
            learn_s=self.settings.warmup_s + self.settings.baseline_s,
            episodes=tuple(self.episodes),
            form_cues=sum(c.category == Category.FORM.value for c in self.cues),
            cues=len(self.cues),
            heart_rate_bpm=float(np.mean(self._heart_rates)) if self._heart_rates else None,
            distance_m=self.distance_m,
            cue_results=cue_results(
                ((c.t, c.id, c.text, c.episode) for c in self.cues), self.episodes
            ),
        )
        return self._in_order(events), stats
