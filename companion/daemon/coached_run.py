"""A run coached by the daemon: its sensors or recording, its engine, and what `companion
status` says about it. Imported with the first run: the analysis and the
Bluetooth stack are not needed to wait between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from companion import paths
from companion.coaching.events import (
    Battery,
    CueSpoken,
    DriftEnded,
    DriftStarted,
    Event,
    Metrics,
    SensorChanged,
    StateChanged,
    Summary,
)
from companion.coaching.files import ConfigurationError
from companion.coaching.lifecycle import AutoStart, Lifecycle, Phase
from companion.coaching.spoken import clock
from companion.config import Config
from companion.daemon.control import Start
from companion.history.recorder import RunRecorder
from companion.run.options import RunError, RunOptions
from companion.run.runner import (
    Plan,
    live_plan,
    new_engine,
    own_slopes,
    pace,
    raw_log_plan,
    record,
    recording_plan,
)
from companion.run.session import Frontend, Session
from companion.run.timeline import EventFile
from cues.datafile import DataFileError
from sensors.bluetooth import pairing
from sensors.bluetooth.live import LiveSource
from sensors.bluetooth.transport import Transport
from sensors.clock import PacedClock
from sensors.profiles import Role
from sensors.recorded.rawlog import RawLogError, is_raw_log
from sensors.recorded.recording import RecordingError, load_recording
from sensors.samples import FootpodSample

if TYPE_CHECKING:
    from cues.audio import AudioSink
    from cues.speaker import Speaker
    from cues.speech import SpeechRenderer

log = logging.getLogger(__name__)


class Daemon(Protocol):
    """What a run needs of the daemon that leads it (companion.daemon.service.Daemon)."""

    @property
    def config(self) -> Config: ...
    @property
    def sink(self) -> AudioSink: ...
    @property
    def renderer(self) -> SpeechRenderer: ...
    @property
    def speaker(self) -> Speaker: ...
    def run_ended(self, run: ActiveRun) -> None:
        """The run is over: its summary said, its record closed."""

    def notify_status(self) -> None:
        """The run's status changed (systemd's status line follows it)."""


STOP_WAIT_S = 20.0  # how long `companion stop` waits for the summary


async def _plan(config: Config, request: Start) -> tuple[Plan, float]:
    if request.replay is None:
        sensors = pairing.load(paths.paired_sensors())
        return live_plan(sensors, Transport.parse(config.daemon.transport)), 1.0
    path = Path(request.replay)
    if not path.is_absolute():
        raise RunError(f"{path}: give the recording's absolute path")
    if is_raw_log(path):
        return raw_log_plan(path), request.speed
    recording = await asyncio.to_thread(load_recording, path)
    return recording_plan(recording), request.speed


async def begin(daemon: Daemon, request: Start, options: RunOptions) -> ActiveRun:
    """Start the run `request` asks for; a `RunError` saying why it cannot."""
    try:
        plan, speed = await _plan(daemon.config, request)
    except (
        DataFileError,
        RecordingError,
        RawLogError,
        ConfigurationError,
        pairing.PairingError,
    ) as err:
        raise RunError(str(err)) from None
    base = plan.raw_log_path.with_suffix("") if plan.raw_log_path else paths.new_run_name()
    files = {"events": str(base.with_suffix(".events.jsonl"))}
    if plan.raw_log_path is not None:
        files["raw_log"] = str(plan.raw_log_path)
    recorder = await asyncio.to_thread(record, plan, base, files)
    try:
        slopes = await asyncio.to_thread(own_slopes, options)  # the history: off the loop
        return ActiveRun(daemon, plan, options, speed, base, recorder, slopes)
    except ConfigurationError as err:
        if recorder is not None:
            await asyncio.to_thread(recorder.close)
        plan.close()
        raise RunError(str(err)) from None
    except Exception:
        plan.close()
        raise


async def watch_footpod(config: Config) -> str | None:
    """Between runs: return (the footpod's name) once the paired footpod shows running
    cadence for a while; None when no footpod is paired."""
    pods = [s for s in pairing.load(paths.paired_sensors()) if s.role is Role.FOOTPOD]
    if not pods:
        log.warning("auto_start is on but no footpod is paired; it stays off")
        return None
    pod = pods[0]
    detector = AutoStart(spm=config.daemon.auto_start_spm)
    source = LiveSource([pod], Transport.parse(config.daemon.transport), PacedClock())
    log.info("watching %s for running cadence to start a run", pod.label)
    async with contextlib.aclosing(source.stream()) as samples:  # let go of the pod after
        async for sample in samples:
            if isinstance(sample, FootpodSample) and detector.footpod(sample.t, sample.cadence_spm):
                return pod.label
    return None


class RunStatus:
    """What `companion status` says about a run, kept up to date from its events."""

    def __init__(self, run: ActiveRun):
        self.run = run
        self.metrics: Metrics | None = None
        self.sensors: dict[str, dict[str, Any]] = {}
        self.last_cue: CueSpoken | None = None
        self.drifts: dict[int, str] = {}
        self.summary: Summary | None = None

    def show(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self.run.engine_state(event.state)
        elif isinstance(event, Metrics):
            self.metrics = event
        elif isinstance(event, SensorChanged):
            self.sensors.setdefault(event.id, {"role": event.role})["link"] = event.link
            log.info("%s: %s", event.id, event.link)
        elif isinstance(event, Battery):
            self.sensors.setdefault(event.id, {"role": event.role})["battery"] = event.percent
        elif isinstance(event, CueSpoken):
            self.last_cue = event
            log.info("said at %s: %s", clock(event.t), event.text)
        elif isinstance(event, DriftStarted):
            self.drifts[event.episode["episode"]] = event.text
            log.info("drift at %s: %s", clock(event.t), event.text)
        elif isinstance(event, DriftEnded):
            self.drifts.pop(event.episode["episode"], None)
        elif isinstance(event, Summary):
            self.summary = event

    def describe(self) -> dict[str, Any]:
        m = self.metrics
        metrics = (
            {}
            if m is None
            else {
                "cadence_spm": m.cadence_spm,
                "lean_deg": m.lean_deg,
                "speed_mps": m.speed_mps,
                "heart_rate_bpm": m.heart_rate_bpm,
                "running_s": round(m.running_s, 1),
                "steps": m.steps,
            }
        )
        return {
            "sensors": self.sensors,
            "metrics": {k: round(v, 2) if isinstance(v, float) else v for k, v in metrics.items()},
            "drifts": sorted(self.drifts.values()),
            "last_cue": None
            if self.last_cue is None
            else {"at": clock(self.last_cue.t), "text": self.last_cue.text},
        }


class ActiveRun:
    """One run coached by the daemon, from `start` to its summary."""

    def __init__(
        self,
        daemon: Daemon,
        plan: Plan,
        options: RunOptions,
        speed: float,
        base: Path,
        recorder: RunRecorder | None,
        slopes: dict[str, float] | None = None,
    ):
        self.daemon = daemon
        self.plan = plan
        self.options = options
        self.speed = speed
        self.lifecycle = Lifecycle()
        self.lifecycle.start()
        self.status = RunStatus(self)
        self.stop_event = asyncio.Event()
        self.clock, hold = pace(speed, daemon.sink)
        self.events_path = base.with_suffix(".events.jsonl")
        engine = new_engine(options, daemon.renderer, slopes)
        self.events = EventFile(self.events_path)
        self.recorder = recorder
        frontends: list[Frontend] = [self.status, self.events]
        if recorder is not None:
            frontends.append(recorder)
            engine.on_second = recorder.second
        self.session = Session(
            engine,
            daemon.speaker,
            frontends,
            hold_for_speech=hold,
            speak_summary=daemon.config.daemon.speak_summary,
            earlier=recorder.earlier if recorder is not None else (),
        )
        self.task = asyncio.create_task(self._coach())

    @property
    def phase(self) -> Phase:
        return self.lifecycle.phase

    async def _coach(self) -> Summary | None:
        for frontend in self.session.frontends:
            frontend.show(self.plan.header)
        try:
            _, summary = await self.session.run(
                self.plan.make_source(self.clock),
                stop=self.stop_event,
                clock=self.clock if self.plan.live else None,
            )
            return summary
        except Exception:
            log.exception("the run failed; what was recorded is kept in %s", self.events_path)
            return None
        finally:
            self.plan.close()
            self.events.close()
            if self.recorder is not None:
                await asyncio.to_thread(self.recorder.close)
            self.lifecycle.engine(Phase.FINISHED, held=False)
            self.daemon.run_ended(self)

    def engine_state(self, state: str) -> None:
        before = self.lifecycle.phase
        self.lifecycle.engine(state, self.session.engine.held)
        if self.lifecycle.phase is not before:
            self._phase_changed()

    def _phase_changed(self) -> None:
        phase = self.lifecycle.phase
        log.info("run %s", phase if phase is not Phase.PAUSED else f"paused ({self.paused_by})")
        self.daemon.notify_status()

    @property
    def paused_by(self) -> str | None:
        return self.lifecycle.paused_by

    async def pause(self) -> None:
        self.lifecycle.check_pause()
        await self.session.handle(self.session.engine.pause(self.session.now()))
        # Paused already because the runner stopped, the engine says no new state; the
        # pause is the runner's from now on all the same.
        self.engine_state(self.session.engine.state.value)

    async def resume(self) -> None:
        self.lifecycle.check_resume()
        await self.session.handle(self.session.engine.resume(self.session.now()))

    async def stop(self, wait_s: float = STOP_WAIT_S) -> Summary | None:
        self.stop_event.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.task), wait_s)
        return self.task.result() if self.task.done() else None

    def describe(self) -> dict[str, Any]:
        now = self.session.now()
        return {
            "state": self.phase.value,
            "paused_by": self.paused_by,
            "clock": clock(now),
            "run_s": round(now, 1),  # since the start, pauses and stops included
            "running_s": round(self.session.engine.running_s, 1),  # held while paused
            "source": self.plan.header.source,
            "events_file": str(self.events_path),
            **self.status.describe(),
        }
