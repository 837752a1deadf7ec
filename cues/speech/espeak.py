"""The espeak-ng engine, through pyttsx3: a formant voice that installs anywhere.

Runs in the speech worker process (`cues.speech.worker`), one phrase at a time: espeak-ng
keeps its voice and rate in process-wide state, and pyttsx3 hands out one engine per driver.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from cues.loudness import Samples
from cues.speech.errors import SpeechError, VoiceUnavailable
from cues.wavfile import read_wav, wav_duration

ATTEMPTS = 3


class EspeakEngine:
    """espeak-ng's voices; `speak` gives a phrase's samples and their rate."""

    def __init__(self) -> None:
        self._finished = _Finished()
        try:
            import pyttsx3
            import pyttsx3.drivers.espeak as espeak_driver

            self._engine: Any = pyttsx3.init("espeak") if os.name == "posix" else pyttsx3.init()
        except Exception as err:
            raise VoiceUnavailable(
                f"espeak-ng could not be loaded ({err}); on Debian `make setup` installs it"
            ) from err
        # The espeak driver prints "Audio saved to ..." for every file it writes.
        setattr(espeak_driver, "print", lambda *args, **kwargs: None)  # noqa: B010
        self._engine.connect("finished-utterance", self._finished)
        self._voices = {voice.id for voice in self._engine.getProperty("voices")}
        self._settings: tuple[str | None, int] | None = None

    def check(self, voice: str | None) -> None:
        """Raises VoiceUnavailable for a voice espeak-ng does not have."""
        if voice is not None and voice not in self._voices:
            some = ", ".join(sorted(self._voices)[:8])
            raise VoiceUnavailable(f"espeak-ng has no voice {voice!r}; some it has: {some}")

    def speak(self, text: str, voice: str | None, rate: int) -> tuple[Samples, int]:
        self.check(voice)
        self._apply(voice, rate)
        with tempfile.TemporaryDirectory(prefix="espeak-") as folder:
            wav = Path(folder) / "phrase.wav"
            # pyttsx3's espeak loop once ended without the phrase (seen in CI, under load);
            # asking again is cheap, and a phrase that never comes still fails clearly.
            for _attempt in range(ATTEMPTS):
                if self._synthesise(text, wav):
                    break
            else:
                raise SpeechError(f"espeak-ng did not finish {text!r} in {ATTEMPTS} attempts")
            if not wav.exists() or wav_duration(wav) <= 0:
                raise SpeechError(f"espeak-ng wrote no audio for {text!r}")
            samples, sample_rate = read_wav(wav)
        return samples.astype(float), sample_rate

    def _apply(self, voice: str | None, rate: int) -> None:
        if (voice, rate) == self._settings:
            return
        if voice is not None:
            self._engine.setProperty("voice", voice)
            _settle()  # the voice change waits in espeak-ng's queue: the rate is set after it
        for _ in range(ATTEMPTS):  # read back: under load espeak-ng once kept its old rate
            self._engine.setProperty("rate", rate)
            _settle()
            if _current_rate() in (None, rate):
                break
        self._settings = (voice, rate)

    def _synthesise(self, text: str, wav: Path) -> bool:
        """One try at writing `text` to `wav`; whether the engine said it finished."""
        self._finished.event.clear()
        # One save_to_file per runAndWait: queueing several writes only the last.
        self._engine.save_to_file(text, str(wav))
        self._engine.runAndWait()
        _settle()
        return self._finished.event.wait(timeout=10) and self._finished.completed


class _Finished:
    """The driver's word that an utterance is done, and whether it was completed."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.completed = False

    def __call__(self, completed: bool = True, **_: object) -> None:
        self.completed = completed
        self.event.set()


def _settle() -> None:
    """Wait until espeak-ng has done everything asked of it.

    pyttsx3's espeak driver runs espeak-ng in its asynchronous mode: synthesis happens on
    espeak-ng's own thread, so runAndWait can return before the file is written (pyttsx3
    issue #219), and property changes wait in espeak-ng's queue. While anything waits there,
    the driver's next runAndWait takes espeak-ng for busy and cancels the new phrase,
    settings included. Settling after each change and each phrase keeps them in order.
    """
    if os.name == "posix":
        from pyttsx3.drivers import _espeak

        _espeak.Synchronize()


def _current_rate() -> int | None:
    """The rate espeak-ng will speak at now (None where it cannot be asked). Asked of the
    library itself: pyttsx3 binds espeak_GetParameter without its `current` argument."""
    if os.name != "posix":
        return None
    from pyttsx3.drivers import _espeak

    get = _espeak.dll.espeak_GetParameter
    get.argtypes, get.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return int(get(_espeak.RATE, 1))
