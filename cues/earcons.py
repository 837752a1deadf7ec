"""Earcons: short sounds made in code, so a cue can be heard even when speech fails.

- attention: a two-note chime before a form cue;
- start and end: three notes rising or falling, for the start and end of a run or drill;
- tick and go: countdown ticks and the higher note that ends a countdown.

Each is a few partials under a smooth envelope (no clicks at either end), written once as a
22,050 Hz mono 16-bit WAV file into a cache folder and reused.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.samples import FloatArray

RATE = 22050
VERSION = 1  # part of the file name: a changed sound gets a new file


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


def synthesize(name: str) -> FloatArray:
    """The samples (-1..1 at `RATE`) of earcon `name`."""
    notes = EARCONS[name]
    gap = np.zeros(int(0.02 * RATE))
    parts = [p for note in notes for p in (_tone(note), gap)][:-1]
    return np.concatenate(parts)


def earcon_file(name: str, cache_dir: Path) -> Path:
    """The WAV file of earcon `name`, written on first use."""
    path = cache_dir / f"earcon-{name}-v{VERSION}.wav"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        samples = np.round(synthesize(name) * 32767).astype("<i2")
        partial = path.with_suffix(".tmp")
        with wave.open(str(partial), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(samples.tobytes())
        partial.replace(path)  # never a half-written file under the real name
    return path
