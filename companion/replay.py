"""Coaching a recording: the demo and `companion replay` share this one path.

It wires the parts a live run will use as well: a sensor source (here a recording at the
pace of a clock), the engine, speech and audio, and a frontend.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console

from companion import paths
from companion.coach import estimate_duration
from companion.drift import load_rules
from companion.engine import RunEngine
from companion.events import Event, RunStarted, Summary
from companion.session import Speaker, run_session
from companion.timeline import JsonLines, Timeline
from cues.audio import AudioMode, DevicePlayer, WavFileSink, open_sink
from cues.catalogue import load_catalogue
from cues.speech import SpeechError, SpeechRenderer
from sensors.clock import Clock, PacedClock, UnpacedClock
from sensors.profiles import SPOKEN_NAMES
from sensors.recording import Recording, ReplaySource


class ReplayError(RuntimeError):
    """A recording that cannot be coached as asked."""


@dataclass(frozen=True)
class ReplayOptions:
    speed: float = 150.0  # run seconds per second; 0 = as fast as possible
    audio: AudioMode = "auto"
    out: Path | None = None  # where WAV files go when there is no audio device
    json: bool = False
    sensor: str | None = None
    catalogue: Path | None = None
    rules: Path | None = None
    name: str = "replay"  # names the folder of WAV files


def coach_recording(
    recording: Recording,
    options: ReplayOptions,
    markers: Sequence[Event] = (),
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> Summary:
    """Replay `recording` through the whole run path; returns the run's summary."""
    trunk = recording.trunk_tracks()
    if options.sensor is not None:
        track = recording.track(options.sensor)
    elif trunk:
        track = trunk[0]
    else:
        names = ", ".join(tr.sensor for tr in recording.accel)
        raise ReplayError(
            f"{recording.name}: no sensor on the trunk (found {names}); say which one and "
            "where it sat, for example --sensor acc --placement acc=pelvis"
        )
    catalogue = load_catalogue(options.catalogue)
    rules = load_rules(options.rules)
    info = Console(file=stderr) if options.json else Console(file=stdout)

    slug = re.sub(r"[^a-z0-9]+", "-", options.name.lower()).strip("-")[:40] or "run"
    sink, problem = open_sink(options.audio, options.out or paths.audio_out(slug))
    if problem:
        info.print(f"[yellow]No sound here: {problem}. Cues are written as WAV files instead.")
    renderer = SpeechRenderer(paths.speech_cache())
    try:
        with info.status("Rendering the cue catalogue to speech…"):
            renderer.render_all(catalogue.texts({"sensor": SPOKEN_NAMES}))
    except SpeechError as err:
        info.print(f"[red]Speech is unavailable: {err}. The run goes on, shown but not spoken.")

    def duration_of(text: str) -> float:
        return renderer.duration(text) or estimate_duration(text)

    engine = RunEngine(catalogue, rules, duration_of=duration_of)
    clock: Clock = PacedClock(options.speed) if options.speed > 0 else UnpacedClock()
    source = ReplaySource(recording, clock, sensors=(track.sensor,))
    frontend = JsonLines(stdout) if options.json else Timeline(Console(file=stdout))
    try:
        with frontend:
            frontend.show(
                RunStarted(
                    t=0.0,
                    source=recording.name,
                    sensor=track.sensor,
                    placement=track.placement.value,
                    notes=recording.notes,
                )
            )
            hold = options.speed > 1 and isinstance(sink, DevicePlayer)
            _, summary = asyncio.run(
                run_session(source, engine, Speaker(renderer, sink), [frontend], markers, hold)
            )
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
