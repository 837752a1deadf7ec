"""How a run is to be coached: the options from the configuration and the command line,
and the sound and voice they ask for. Light to import: the daemon reads it while idle."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from companion import paths
from companion.config import Config, ScheduleConfig, SoundConfig, SpeechConfig
from companion.outputs import vet_folder, write_new
from cues.audio import AudioMode, AudioSink, NoSoundDevice, open_sink
from cues.catalogue import load_catalogue
from cues.loudness import Loudness
from cues.speech import (
    Engine,
    SpeechError,
    SpeechRenderer,
    VoiceSettings,
    engine_fits,
    engine_for,
    set_worker_idle,
)
from sensors.profiles import SPOKEN_NAMES

log = logging.getLogger(__name__)


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
    worker_idle_s: float = 60.0  # the speech worker leaves after this long with nothing to do
    pre_roll_s: float = 0.3  # inaudible sound before the first word, to wake headphones
    duck_level: float | None = 0.3  # other audio's volume while a cue plays; None: untouched
    headphones_only: bool = False  # say nothing when the output is not headphones
    warmup_s: float = 60.0  # running not judged
    baseline_s: float = 120.0  # running the baseline is learned from, after the warm-up
    split_m: float = 1000.0  # distance splits (footpod); 0: off
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)  # in-run announcements

    @classmethod
    def configured(cls, cfg: Config, **given: Any) -> RunOptions:
        """The runner's configuration, with what the command line `given` (not None) on top."""
        duck = cfg.sound.duck_level
        options = cls(
            audio=cfg.sound.audio,
            catalogue=cfg.coach.cues,
            rules=cfg.coach.rules,
            metronome=cfg.sound.metronome_beats,
            voice=configured_voice(cfg.speech, cfg.sound),
            worker_idle_s=cfg.speech.worker_idle_s,
            pre_roll_s=cfg.sound.pre_roll_s,
            duck_level=None if duck >= 1 else duck,
            headphones_only=cfg.sound.headphones_only,
            warmup_s=cfg.coach.warmup_s,
            baseline_s=cfg.coach.baseline_s,
            split_m=cfg.schedule.split_km * 1000,
            schedule=cfg.schedule,
        )
        return replace(options, **{k: v for k, v in given.items() if v is not None})


def configured_voice(
    speech: SpeechConfig,
    sound: SoundConfig,
    *,
    engine: Engine | None = None,
    voice: str | None = None,
    rate: int | None = None,
    volume: float | None = None,
) -> VoiceSettings:
    """The configuration's voice, with what the command line gave (not None) on top. A
    voice given alone brings its own engine: `--voice gmw/en-us` is espeak-ng's. An engine
    given alone wins over the configuration's voice for another engine, and speaks with
    its own default voice."""
    if voice is None:
        voice, engine = speech.voice, engine or speech.engine
        if voice is not None and engine is not None and not engine_fits(voice, engine):
            voice = None
    try:
        chosen = engine_for(voice, engine)
    except ValueError as err:
        raise RunError(f"cannot speak as asked: {err}") from None
    return VoiceSettings(
        engine=chosen,
        voice=voice,
        rate=speech.rate if rate is None else rate,
        volume=speech.volume if volume is None else volume,
        loudness=Loudness(sound.loudness_lufs, sound.true_peak_db),
        clarity=speech.clarity,
    )


def tell(info: Console | None, markup: str, text: str) -> None:
    """A problem said on `info`, or logged when there is none (the daemon)."""
    if info is not None:
        info.print(f"{markup}{text}")
    else:
        log.warning("%s", text)


def audio_sink(options: RunOptions, info: Console | None) -> AudioSink:
    """The sound output `options` ask for: the device, or WAV files in the runner's `--out`
    folder (by the rule of companion/outputs.py) or else a new folder in the data folder.
    Where the files go is told at once on `info`, or logged when there is none."""
    if options.out is not None:
        folder = vet_folder(options.out)
    else:
        slug = re.sub(r"[^a-z0-9]+", "-", options.name.lower()).strip("-")[:40] or "run"
        folder = paths.audio_out(slug)
    try:
        sink, problem = open_sink(
            options.audio,
            folder,
            write_new,
            options.pre_roll_s,
            options.duck_level,
            options.headphones_only,
        )
    except NoSoundDevice as err:
        raise RunError(f"no sound device to play on: {err}") from None
    if problem:
        text = f"No sound here: {problem}. Cues are written as WAV files in {folder} instead."
        tell(info, "[yellow]", text)
    return sink


def open_audio(options: RunOptions, info: Console | None) -> tuple[AudioSink, SpeechRenderer]:
    """The sound output (`audio_sink`) and the speech renderer, with the catalogue rendered
    ahead. Problems are told on `info`, or logged when there is none (the daemon)."""
    sink = audio_sink(options, info)
    set_worker_idle(options.worker_idle_s)
    renderer = SpeechRenderer(paths.speech_cache(), options.voice)
    texts = load_catalogue(options.catalogue).texts({"sensor": SPOKEN_NAMES})
    try:
        if info is None:
            renderer.render_all(texts)
        else:
            with info.status("Rendering the cue catalogue to speech…"):
                renderer.render_all(texts)
    except SpeechError as err:
        tell(info, "[red]", f"Speech is unavailable: {err}. The run goes on, shown but not spoken.")
    else:
        voice = renderer.voice.describe()
        if info is not None and not options.json:  # JSON lines: only what was decided
            info.print(f"[dim]Speaking with {voice}.")
        log.info("speaking with %s", voice)
    return sink, renderer
