"""Running a coached session from any source: a recording, a raw log, or live sensors.

One path for all three: the engine, speech and audio, and a frontend (the timeline or JSON
lines) around a sensor source. Only the source and the clock differ.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from rich.console import Console

from companion import logs, paths
from companion.coaching.coach import estimate_duration
from companion.coaching.engine import EngineSettings, RunEngine
from companion.coaching.events import Event, RunStarted, Summary
from companion.coaching.files import load_coaching
from companion.history.recorder import NewRun, RunRecorder, recover
from companion.history.runs import runner_slopes
from companion.history.store import RAW_MAGIC, StoreError
from companion.run.options import RunError, RunOptions, open_audio
from companion.run.session import Frontend, Session
from companion.run.timeline import JsonLines, Timeline
from cues.audio import AudioSink, DevicePlayer, WavFileSink
from cues.speaker import Speaker
from cues.speech import SpeechRenderer
from cues.words import counted
from sensors.bluetooth.live import LiveSettings, LiveSource
from sensors.bluetooth.transport import Transport
from sensors.clock import Clock, PacedClock, UnpacedClock
from sensors.profiles import PairedSensor
from sensors.recorded.rawlog import RawLogSource, RawLogWriter
from sensors.recorded.recording import AccelTrack, Recording, ReplaySource
from sensors.source import SensorSource

log = logging.getLogger(__name__)

LIVE_CHUNK_S = 0.2  # a real-time replay's batches, as a live sensor sends them
UNPACED_CHUNK_S = 2.0  # a replay as fast as the machine goes
PACED_BATCHES_A_SECOND = 20  # a faster replay: longer batches, as many a wall second


def own_slopes(options: RunOptions) -> dict[str, float]:
    """The runner's own pace slopes for the options' rules, from the history (blocking)."""
    _, rules = load_coaching(options.catalogue, options.rules)
    return runner_slopes(rules)


def new_engine(
    options: RunOptions, renderer: SpeechRenderer, slopes: dict[str, float] | None = None
) -> RunEngine:
    """A run engine with the options' cues, rules and timings (checked against each other),
    and the runner's own pace slopes (`own_slopes`, read here when not given)."""

    def duration_of(text: str) -> float:
        return renderer.duration(text) or estimate_duration(text)

    every = options.schedule
    settings = EngineSettings(
        warmup_s=options.warmup_s,
        baseline_s=options.baseline_s,
        metronome_beats=options.metronome,
        split_m=options.split_m,
        checkin_s=every.checkin_min * 60,
        split_s=every.split_min * 60,
        heart_rate_s=every.heart_rate_min * 60,
    )
    catalogue, rules = load_coaching(options.catalogue, options.rules)
    if slopes is None:
        slopes = runner_slopes(rules)
    return RunEngine(catalogue, rules, settings, duration_of=duration_of, slopes=slopes)


def pace(speed: float, sink: AudioSink) -> tuple[Clock, bool]:
    """The run's clock at `speed` (0: as fast as it goes), and whether the run waits while a
    cue is heard: a replay faster than real time does on a device, so that what is shown
    and what is said stay together."""
    clock: Clock = PacedClock(speed) if speed > 0 else UnpacedClock()
    return clock, speed > 1 and isinstance(sink, DevicePlayer)


def coach(
    plan: Plan,
    options: RunOptions,
    *,
    markers: Sequence[Event] = (),
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> Summary:
    """Coach the run `plan` describes in the foreground; its summary."""
    live = plan.live
    info = Console(file=stderr) if options.json else Console(file=stdout)
    sink, renderer = open_audio(options, info)
    engine = new_engine(options, renderer)
    speed = 1.0 if live else options.speed
    clock, hold = pace(speed, sink)
    frontend = JsonLines(stdout) if options.json else Timeline(Console(file=stdout))
    recorder = None
    if live and plan.raw_log_path is not None:  # a live run is kept in the history
        recorder = record(
            plan, plan.raw_log_path.with_suffix(""), {"raw_log": str(plan.raw_log_path)}
        )
    frontends: list[Frontend] = [frontend] if recorder is None else [frontend, recorder]
    if recorder is not None:
        engine.on_second = recorder.second
    session = Session(
        engine,
        Speaker(renderer, sink),
        frontends,
        markers,
        hold,
        earlier=recorder.earlier if recorder is not None else (),
    )

    async def run() -> Summary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)  # end cleanly: summary, data kept
        if options.minutes is not None:
            loop.call_later(options.minutes * 60, stop.set)
        try:
            _, summary = await session.run(
                plan.make_source(clock), stop=stop, clock=clock if live else None
            )
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        return summary

    try:
        with frontend:
            for f in frontends:
                f.show(plan.header)
            summary = logs.run(run())
        if not options.json:
            info.print("[dim]Finishing the audio…")
    finally:
        if recorder is not None:
            recorder.close()
        sink.close()  # plays out (or writes) everything queued, the summary last
        renderer.close()
    files = sink if isinstance(sink, WavFileSink) else getattr(sink, "fallback", None)
    if isinstance(files, WavFileSink) and (files.written or files.lost):
        lost = f" ({files.lost} could not be written)" if files.lost else ""
        info.print(
            f"Cues and summary written as {counted(len(files.written), 'WAV file')} to "
            f"{files.folder}{lost}"
        )
    return summary


@dataclass
class Plan:
    """What a run is coached from: its header, and how to make its source on its clock."""

    header: RunStarted
    make_source: Callable[[Clock], SensorSource]
    live: bool = False
    raw_log: RawLogWriter | None = None  # a live run keeps every notification here
    raw_log_path: Path | None = None
    replayed_log: Path | None = None  # the raw log a replay reads

    def close(self) -> None:
        if self.raw_log is not None:
            self.raw_log.close()


def record(plan: Plan, base: Path, files: dict[str, str]) -> RunRecorder | None:
    """Keep the run `plan` describes in the history, as run `base.name`; None (said in the
    log) when the history cannot be written: the run goes on, kept in its files. Blocking."""
    db = paths.history_db()
    try:
        recover(db)
        kind = "live" if plan.live else "replay"
        started = datetime.now().astimezone()
        recorder = RunRecorder(db, NewRun(base.name, started, plan.header.source, kind, files))
    except (StoreError, OSError, sqlite3.Error) as err:
        log.error("the run cannot be kept in the history (%s); its files are kept", err)
        return None
    if plan.raw_log is not None:
        plan.raw_log.also = recorder.raw
    elif plan.replayed_log is not None:
        recorder.raw(plan.replayed_log.read_bytes()[len(RAW_MAGIC) :])
    return recorder


def recording_plan(recording: Recording, sensor: str | None = None) -> Plan:
    """Replay a recording in the data folder's format."""
    if sensor is not None:
        tracks: tuple[AccelTrack, ...] = (recording.track(sensor),)
    else:
        tracks = recording.require_trunk()  # chest and pelvis together give the lumbar arch
    header = RunStarted(
        t=0.0,
        source=recording.name,
        sensor=", ".join(tr.sensor for tr in tracks),
        placement=", ".join(tr.placement.value for tr in tracks),
        notes=recording.notes,
    )
    followed = tuple(tr.sensor for tr in tracks)

    def source(clock: Clock) -> ReplaySource:
        # The analysis finds the same windows in any batch size, so batches need only be as
        # short as the pace asks: as a sensor sends them in real time, as long as the
        # analysis likes them as fast as it goes (a tenth of the calls), and in between
        # as many a wall second whatever the speed.
        chunk_s = min(UNPACED_CHUNK_S, max(LIVE_CHUNK_S, clock.speed / PACED_BATCHES_A_SECOND))
        return ReplaySource(recording, clock, sensors=followed, chunk_s=chunk_s)

    return Plan(header, source)


def raw_log_plan(path: Path) -> Plan:
    """Replay a live run's raw notification log through the live decoders."""
    probe = RawLogSource(path, UnpacedClock())
    trunk = probe.trunk_devices()
    stopped = probe.reading.note()  # cut short or damaged: replayed as far as it reads
    if stopped is not None:
        log.warning("%s", stopped)
    header = RunStarted(
        t=0.0,
        source=path.name,
        sensor=trunk[0]["name"] if trunk else "none",
        placement=trunk[0]["placement"] if trunk else "none",
        notes=(
            *(f"{d['role']}: {d['name']} ({d['address']})" for d in probe.devices.values()),
            *((stopped,) if stopped else ()),
        ),
    )
    return Plan(header, lambda clock: RawLogSource(path, clock), replayed_log=path)


def live_plan(
    sensors: list[PairedSensor], transport: Transport, settings: LiveSettings | None = None
) -> Plan:
    """A live run with the paired sensors; every notification is kept in a raw log."""
    if not sensors:
        raise RunError(
            "no sensors are paired yet: find yours with `companion scan`, "
            "then `companion pair ADDRESS --role ROLE`"
        )
    log_path = paths.new_raw_log()
    writer = RawLogWriter.create(log_path)
    trunk = [s for s in sensors if s.role.placement.value != "other"]
    header = RunStarted(
        t=0.0,
        source=f"live run ({transport.spec})",
        sensor=trunk[0].label if trunk else "none",
        placement=trunk[0].role.placement.value if trunk else "none",
        notes=(
            *(f"{s.role.value}: {s.label} ({s.address})" for s in sensors),
            f"raw notifications kept in {log_path}",
        ),
    )
    return Plan(
        header,
        lambda clock: LiveSource(sensors, transport, clock, settings, writer),
        live=True,
        raw_log=writer,
        raw_log_path=log_path,
    )


def coach_recording(
    recording: Recording, options: RunOptions, markers: Sequence[Event] = ()
) -> Summary:
    return coach(recording_plan(recording, options.sensor), options, markers=markers)


def coach_raw_log(path: Path, options: RunOptions) -> Summary:
    return coach(raw_log_plan(path), options)


def coach_live(
    sensors: list[PairedSensor],
    transport: Transport,
    options: RunOptions,
    settings: LiveSettings | None = None,
) -> tuple[Summary, Path]:
    plan = live_plan(sensors, transport, settings)
    try:
        summary = coach(plan, options)
    finally:
        plan.close()
    assert plan.raw_log_path is not None
    return summary, plan.raw_log_path
