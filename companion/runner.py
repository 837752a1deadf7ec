"""Running a coached session from any source: a recording, a raw log, or live sensors.

One path for all three: the engine, speech and audio, and a frontend (the timeline or JSON
lines) around a sensor source. Only the source and the clock differ.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console

from companion import paths
from companion.coach import estimate_duration
from companion.drift import load_rules
from companion.engine import EngineSettings, RunEngine
from companion.events import Event, RunStarted, Summary
from companion.session import Speaker, run_session
from companion.timeline import JsonLines, Timeline
from cues.audio import AudioMode, DevicePlayer, WavFileSink, open_sink
from cues.catalogue import load_catalogue
from cues.speech import SpeechError, SpeechRenderer, VoiceSettings
from sensors.clock import Clock, PacedClock, UnpacedClock
from sensors.live import LiveSettings, LiveSource, PairedSensor, Transport
from sensors.profiles import SPOKEN_NAMES
from sensors.rawlog import RawLogSource, RawLogWriter
from sensors.recording import AccelTrack, Recording, ReplaySource
from sensors.source import SensorSource


class RunError(RuntimeError):
    """A run that cannot be started as asked."""


@dataclass(frozen=True)
class RunOptions:
    speed: float = 150.0  # replays: run seconds per second; 0 = as fast as possible
    audio: AudioMode = "auto"
    out: Path | None = None  # where WAV files go when there is no audio device
    json: bool = False
    sensor: str | None = None
    catalogue: Path | None = None
    rules: Path | None = None
    name: str = "replay"  # names the folder of WAV files
    minutes: float | None = None  # end a live run after this long
    metronome: int = 0  # ticks at the runner's cadence after an overstriding cue; 0: off
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    pre_roll_s: float = 0.3  # inaudible sound before the first word, to wake headphones
    duck_level: float | None = 0.3  # other audio's volume while a cue plays; None: untouched
    headphones_only: bool = False  # say nothing when the output is not headphones
    warmup_s: float = 60.0  # running not judged
    baseline_s: float = 120.0  # running the baseline is learned from, after the warm-up


def coach(
    header: RunStarted,
    make_source: Callable[[Clock], SensorSource],
    options: RunOptions,
    *,
    live: bool = False,
    markers: Sequence[Event] = (),
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> Summary:
    """Coach a run from the source `make_source` builds on the run's clock; the summary."""
    catalogue = load_catalogue(options.catalogue)
    rules = load_rules(options.rules)
    info = Console(file=stderr) if options.json else Console(file=stdout)

    slug = re.sub(r"[^a-z0-9]+", "-", options.name.lower()).strip("-")[:40] or "run"
    sink, problem = open_sink(
        options.audio,
        options.out or paths.audio_out(slug),
        options.pre_roll_s,
        options.duck_level,
        options.headphones_only,
    )
    if problem:
        info.print(f"[yellow]No sound here: {problem}. Cues are written as WAV files instead.")
    renderer = SpeechRenderer(paths.speech_cache(), options.voice)
    try:
        with info.status("Rendering the cue catalogue to speech…"):
            renderer.render_all(catalogue.texts({"sensor": SPOKEN_NAMES}))
    except SpeechError as err:
        info.print(f"[red]Speech is unavailable: {err}. The run goes on, shown but not spoken.")

    def duration_of(text: str) -> float:
        return renderer.duration(text) or estimate_duration(text)

    settings = EngineSettings(
        warmup_s=options.warmup_s,
        baseline_s=options.baseline_s,
        metronome_beats=options.metronome,
    )
    engine = RunEngine(catalogue, rules, settings, duration_of=duration_of)
    speed = 1.0 if live else options.speed
    clock: Clock = PacedClock(speed) if speed > 0 else UnpacedClock()
    frontend = JsonLines(stdout) if options.json else Timeline(Console(file=stdout))
    hold = speed > 1 and isinstance(sink, DevicePlayer)

    async def run() -> Summary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)  # end cleanly: summary, data kept
        if options.minutes is not None:
            loop.call_later(options.minutes * 60, stop.set)
        try:
            _, summary = await run_session(
                make_source(clock),
                engine,
                Speaker(renderer, sink),
                [frontend],
                markers,
                hold,
                stop=stop,
                clock=clock if live else None,
            )
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        return summary

    try:
        with frontend:
            frontend.show(header)
            summary = asyncio.run(run())
        if not options.json:
            info.print("[dim]Finishing the audio…")
    finally:
        sink.close()  # plays out (or writes) everything queued, the summary last
        renderer.close()
    files = sink if isinstance(sink, WavFileSink) else getattr(sink, "fallback", None)
    if isinstance(files, WavFileSink) and (files.written or files.lost):
        lost = f" ({files.lost} could not be written)" if files.lost else ""
        info.print(
            f"Cues and summary written as {len(files.written)} WAV files to {files.folder}{lost}"
        )
    return summary


def coach_recording(
    recording: Recording, options: RunOptions, markers: Sequence[Event] = ()
) -> Summary:
    """Replay a recording in the data folder's format."""
    trunk = recording.trunk_tracks()
    if options.sensor is not None:
        tracks: tuple[AccelTrack, ...] = (recording.track(options.sensor),)
    elif trunk:
        tracks = trunk  # a chest and a pelvis sensor together give the lumbar arch
    else:
        names = ", ".join(tr.sensor for tr in recording.accel)
        raise RunError(
            f"{recording.name}: no sensor on the trunk (found {names}); say which one and "
            "where it sat, for example --sensor acc --placement acc=pelvis"
        )
    header = RunStarted(
        t=0.0,
        source=recording.name,
        sensor=", ".join(tr.sensor for tr in tracks),
        placement=", ".join(tr.placement.value for tr in tracks),
        notes=recording.notes,
    )
    return coach(
        header,
        lambda clock: ReplaySource(recording, clock, sensors=tuple(tr.sensor for tr in tracks)),
        options,
        markers=markers,
    )


def coach_raw_log(path: Path, options: RunOptions) -> Summary:
    """Replay a live run's raw notification log through the live decoders."""
    probe = RawLogSource(path, UnpacedClock())
    trunk = probe.trunk_devices()
    header = RunStarted(
        t=0.0,
        source=path.name,
        sensor=trunk[0]["name"] if trunk else "none",
        placement=trunk[0]["placement"] if trunk else "none",
        notes=tuple(f"{d['role']}: {d['name']} ({d['address']})" for d in probe.devices.values()),
    )
    return coach(header, lambda clock: RawLogSource(path, clock), options)


def coach_live(
    sensors: list[PairedSensor],
    transport: Transport,
    options: RunOptions,
    settings: LiveSettings | None = None,
) -> tuple[Summary, Path]:
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
    try:
        summary = coach(
            header,
            lambda clock: LiveSource(sensors, transport, clock, settings, writer),
            options,
            live=True,
        )
    finally:
        writer.close()
    return summary, log_path
