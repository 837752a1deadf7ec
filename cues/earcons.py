"""Earcons: short sounds made in code, so a cue can be heard even when speech fails.

- attention: a two-note chime before a form cue;
- start and end: three notes rising or falling, for the start and end of a run or drill;
- tick and go: countdown ticks and the higher note that ends a countdown;
- a metronome: soft ticks at a given cadence, to step along with.

Each is a few partials under a smooth envelope (no clicks at either end), written once as a
22,050 Hz mono 16-bit WAV file into a cache folder and reused, at the loudness of speech
(the metronome `METRONOME_UNDER_LU` under it: it accompanies, it does not call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cues.loudness import Loudness, normalised
from cues.wavfile import write_wav
from sensors.samples import FloatArray

RATE = 22050
VERSION = 2  # part of the file name, with the level's key: a changed sound gets a new file
METRONOME_UNDER_LU = 10.0


@dataclass(frozen=True)
class Note:
    hz: float
    seconds: float
    level: float = 0.35  # peak, of full scale


EARCONS: dict[str, tuple[Note, ...]] = {
    "attention": (Note(880.0, 0.12), Note(1318.5, 0.22)),
    "start": (Note(523.3, 0.1), Note(659.3, 0.1), Note(784.0, 0.2)),
    "end": (Note(784.0, 0.1), Note(659.3, 0.1), Note(523.3, 0.25)),
    "tick": (Note(1000.0, 0.04, 0.25),),
    "go": (Note(1568.0, 0.18),),
}


def _tone(note: Note) -> FloatArray:
    t = np.arange(int(note.seconds * RATE)) / RATE
    # A bell-like note: the fundamental with two soft overtones, decaying.
    wave_ = np.sin(2 * np.pi * note.hz * t) + 0.3 * np.sin(4 * np.pi * note.hz * t)
    wave_ += 0.1 * np.sin(6 * np.pi * note.hz * t)
    attack = np.minimum(1.0, t / 0.005)  # 5 ms: no click
    decay = np.exp(-3.0 * t / note.seconds)
    release = np.minimum(1.0, (note.seconds - t) / 0.01)
    out: FloatArray = note.level * wave_ / 1.4 * attack * decay * release
    return out


GAP_S = 0.02  # between the notes of one earcon


def earcon_seconds(name: str) -> float:
    """How long earcon `name` lasts."""
    notes = EARCONS[name]
    return sum(int(n.seconds * RATE) for n in notes) / RATE + GAP_S * (len(notes) - 1)


def synthesize(name: str) -> FloatArray:
    """The samples (-1..1 at `RATE`) of earcon `name`."""
    notes = EARCONS[name]
    gap = np.zeros(int(GAP_S * RATE))
    parts = [p for note in notes for p in (_tone(note), gap)][:-1]
    return np.concatenate(parts)


def metronome(spm: float, beats: int) -> FloatArray:
    """`beats` soft ticks, one per step at `spm` steps a minute."""
    tick = _tone(Note(1000.0, 0.03, 0.15))  # softer than the cue it follows
    period = round(RATE * 60.0 / spm)
    out = np.zeros(period * beats)
    for i in range(beats):
        out[i * period : i * period + tick.size] = tick
    return out


def earcon_file(name: str, cache_dir: Path, level: Loudness | None = None) -> Path:
    """The WAV file of earcon `name` at `level` (default: the default loudness), written on
    first use."""
    level = level or Loudness()
    path = cache_dir / f"earcon-{name}-{level.key()}-v{VERSION}.wav"
    return _cached(path, level, lambda: synthesize(name))


def metronome_file(spm: float, beats: int, cache_dir: Path, level: Loudness | None = None) -> Path:
    """The WAV file of `beats` ticks at `spm` (to 0.1 step a minute), written on first use,
    `METRONOME_UNDER_LU` under `level`."""
    soft = (level or Loudness()).under(METRONOME_UNDER_LU)
    path = cache_dir / f"metronome-{spm:.1f}-{beats}-{soft.key()}-v{VERSION}.wav"
    return _cached(path, soft, lambda: metronome(round(spm, 1), beats))


def _cached(path: Path, level: Loudness, make: Callable[[], FloatArray]) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_wav(path, normalised(make(), RATE, level), RATE)
    return path
