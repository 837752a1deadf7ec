"""Speech: phrases rendered once by pyttsx3 (espeak-ng on Linux) into a cache of WAV files.

One engine lives on one dedicated thread, since pyttsx3 engines are not thread-safe and its
loop blocks; callers get futures. Files are keyed by text, voice, rate and volume, so the
same phrase is never rendered twice, and the whole catalogue can be rendered before a run
so that speaking needs no rendering at all.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import queue
import shutil
import threading
import wave
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SpeechError(RuntimeError):
    """Speech could not be rendered (engine missing, unknown voice, empty output)."""


@dataclass(frozen=True)
class VoiceSettings:
    voice: str | None = None  # an espeak-ng voice id such as "gmw/en-us"; None: the default
    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1

    def key(self, text: str) -> str:
        raw = f"pyttsx3|{self.voice}|{self.rate}|{self.volume:.3f}|{text}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class SpeechRenderer:
    """Phrases to cached WAV files for one voice. Any number may exist; they share the
    process's one speech thread."""

    def __init__(self, cache_dir: Path, voice: VoiceSettings | None = None):
        self.cache_dir = cache_dir
        self.voice = voice or VoiceSettings()
        self._durations: dict[str, float] = {}

    def path_for(self, text: str) -> Path:
        return self.cache_dir / f"{self.voice.key(text)}.wav"

    def render(self, text: str) -> Future[Path]:
        """The WAV file of `text`, from the cache or rendered on the speech thread."""
        path = self.path_for(text)
        if path.exists():
            done: Future[Path] = Future()
            done.set_result(path)
            return done
        return _SpeechThread.get().submit(text, self.voice, path)

    def render_all(self, texts: Iterable[str]) -> dict[str, Path]:
        """Render every phrase (waiting for them); raises SpeechError if speech is broken."""
        futures = {text: self.render(text) for text in dict.fromkeys(texts)}
        return {text: f.result() for text, f in futures.items()}

    def duration(self, text: str) -> float | None:
        """Seconds the phrase lasts, if it has been rendered (read once from its header)."""
        if text not in self._durations:
            path = self.path_for(text)
            if not path.exists():
                return None
            self._durations[text] = wav_duration(path)
        return self._durations[text]

    def close(self) -> None:
        """Nothing to release: the speech thread serves the whole process."""


_Job = tuple[str, VoiceSettings, Path, "Future[Path]"]


class _SpeechThread:
    """The one pyttsx3 engine of the process, on its own daemon thread.

    espeak-ng keeps its voice, rate and volume in process-wide state, and pyttsx3 hands out
    one engine per driver, so two threads rendering at once would mix their settings.
    """

    _instance: _SpeechThread | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> _SpeechThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self._jobs: queue.Queue[_Job] = queue.Queue()
        self._settings: VoiceSettings | None = None
        threading.Thread(target=self._work, name="speech", daemon=True).start()

    def submit(self, text: str, voice: VoiceSettings, path: Path) -> Future[Path]:
        done: Future[Path] = Future()
        self._jobs.put((text, voice, path, done))
        return done

    def _work(self) -> None:
        finished = _Finished()
        try:
            engine, broken = _open_engine(finished), None
        except SpeechError as err:
            engine, broken = None, err
        while True:
            text, voice, path, done = self._jobs.get()
            if not done.set_running_or_notify_cancel():
                continue  # nobody waits for it any more (a run or the daemon stopping)
            if broken is not None:
                done.set_exception(broken)
                continue
            try:
                self._apply(engine, voice)
                done.set_result(_render(engine, text, path, finished))
            except SpeechError as err:
                done.set_exception(err)
            except Exception as err:  # any engine failure must reach the caller
                done.set_exception(SpeechError(f"could not render {text!r}: {err}"))

    def _apply(self, engine: Any, v: VoiceSettings) -> None:
        if v == self._settings:
            return
        if v.voice is not None:
            known = {voice.id for voice in engine.getProperty("voices")}
            if v.voice not in known:
                raise SpeechError(
                    f"unknown voice {v.voice!r}; some known voices: " + ", ".join(sorted(known)[:8])
                )
            engine.setProperty("voice", v.voice)
            _settle()  # the voice change waits in espeak-ng's queue: the rate is set after it
        for _ in range(ATTEMPTS):  # read back: under load espeak-ng once kept its old rate
            engine.setProperty("rate", v.rate)
            engine.setProperty("volume", v.volume)
            _settle()
            if _current_rate() in (None, v.rate):
                break
        self._settings = v


class _Finished:
    """The driver's word that an utterance is done, and whether it was completed."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.completed = False

    def __call__(self, completed: bool = True, **_: object) -> None:
        self.completed = completed
        self.event.set()


def _open_engine(finished: _Finished) -> Any:
    try:
        import pyttsx3
        import pyttsx3.drivers.espeak as espeak_driver

        engine = pyttsx3.init("espeak") if os.name == "posix" else pyttsx3.init()
    except Exception as err:
        raise SpeechError(
            f"no speech engine ({err}); on Debian `make setup` installs espeak-ng"
        ) from err
    # The espeak driver prints "Audio saved to ..." for every file it writes, which would
    # corrupt machine-readable output on stdout.
    setattr(espeak_driver, "print", lambda *args, **kwargs: None)  # noqa: B010
    engine.connect("finished-utterance", finished)
    return engine


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


ATTEMPTS = 3
MIN_FREE_BYTES = 4 << 20  # a phrase is about 100 kB; leave room to spare


def _render(engine: Any, text: str, path: Path, finished: _Finished) -> Path:
    if path.exists():
        return path
    # The espeak driver writes the file inside espeak-ng's callback, where a failed write
    # is swallowed and the phrase never finishes: check for room before asking.
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        free = shutil.disk_usage(path.parent).free
    except OSError as err:
        raise SpeechError(f"cannot use the speech cache {path.parent}: {err.strerror}") from None
    if free < MIN_FREE_BYTES or not os.access(path.parent, os.W_OK):
        raise SpeechError(f"no room to write speech in {path.parent}")
    tmp = path.with_suffix(".tmp.wav")
    # pyttsx3's espeak loop once ended without the phrase (seen in CI, under load);
    # asking again is cheap, and a phrase that never comes still fails clearly.
    for _attempt in range(ATTEMPTS):
        if _synthesise(engine, text, tmp, finished):
            break
    else:
        raise SpeechError(f"the engine did not finish {text!r} in {ATTEMPTS} attempts")
    if not tmp.exists() or wav_duration(tmp) <= 0:
        tmp.unlink(missing_ok=True)
        raise SpeechError(f"the engine wrote no audio for {text!r}")
    tmp.chmod(0o600)  # summaries speak about the runner: private like the rest
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def _synthesise(engine: Any, text: str, tmp: Path, finished: _Finished) -> bool:
    """One try at writing `text` to `tmp`; whether the engine said it finished."""
    finished.event.clear()
    # One save_to_file per runAndWait: queueing several writes only the last.
    engine.save_to_file(text, str(tmp))
    engine.runAndWait()
    _settle()
    return finished.event.wait(timeout=10) and finished.completed
