"""WAV files as the product keeps them: mono 16-bit, read as float samples in -1..1, and
written whole under their real name or not at all, readable by the runner alone."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt


def read_wav(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono 16-bit WAV as float32 samples in -1..1, and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples")
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        data = raw.reshape(-1, w.getnchannels()).mean(axis=1)
        return (data / 32768.0).astype(np.float32), w.getframerate()


def wav_duration(path: Path) -> float:
    """Seconds of sound in a WAV file, from its header."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def write_wav(path: Path, samples: npt.NDArray[np.floating], rate: int) -> Path:
    """`samples` (-1..1) as a mono 16-bit file at `path`, replacing it atomically: a reader
    never sees half a file, and two processes writing the same phrase do not mix theirs."""
    pcm = np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2")
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial")
    try:
        with wave.open(str(partial), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        partial.chmod(0o600)  # summaries speak about the runner: private like the rest
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
