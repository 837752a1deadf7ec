"""Speech: what the coach says, rendered once into cached WAV files.

`SpeechRenderer` is the public face; `VoiceSettings` names the voice. Two engines render in a
worker process of their own: Piper (`piper`, a neural voice, the default) and espeak-ng
through pyttsx3 (`espeak`), which stands in when Piper cannot be loaded. Every phrase leaves
the worker at one loudness (`cues.loudness`).

Imports: cues.loudness and cues.wavfile (the worker), nothing of companion.
"""

from cues.speech.errors import SpeechError, VoiceUnavailable
from cues.speech.renderer import SpeechRenderer, set_worker_idle, worker_pid
from cues.speech.voice import ENGINES, Engine, VoiceSettings, engine_fits, engine_for

__all__ = [
    "ENGINES",
    "Engine",
    "SpeechError",
    "SpeechRenderer",
    "VoiceSettings",
    "VoiceUnavailable",
    "engine_fits",
    "engine_for",
    "set_worker_idle",
    "worker_pid",
]
