"""Speech: phrases rendered once into a cache of WAV files, by a worker process.

Files are keyed by engine, voice, rate, volume, loudness, clarity and text, so the same
phrase is never rendered twice, and the whole catalogue can be rendered before a run so that
speaking needs no rendering at all. Callers get futures: one thread of the process hands the phrases
to the worker (`cues.speech.worker`) one at a time, starts it when there is work and lets it
go when it has been idle a while (`set_worker_idle`), taking the loaded voice's memory with it.

When the engine or voice asked for cannot be loaded, one line says so and the other engine's
default voice speaks instead, for the rest of the process.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from cues.speech.errors import SpeechError, VoiceUnavailable
from cues.speech.voice import VoiceSettings
from cues.wavfile import wav_duration

log = logging.getLogger(__name__)

IDLE_S = 60.0  # the worker leaves after this long with nothing to render


class SpeechRenderer:
    """Phrases to cached WAV files for one voice. Any number may exist; they share the
    process's one speech worker. With `fallback`, the other engine stands in for a voice
    that cannot be loaded; without (benchmarks), that is an error."""

    def __init__(
        self, cache_dir: Path, voice: VoiceSettings | None = None, fallback: bool = True
    ) -> None:
        self.cache_dir = cache_dir
        self.asked = voice or VoiceSettings()
        self.fallback = fallback
        self._durations: dict[str, float] = {}

    @property
    def voice(self) -> VoiceSettings:
        """The voice that speaks: the one asked for, or what stands in for it."""
        if self.fallback and self.asked in _Renders.unavailable:
            return self.asked.fallback()
        return self.asked

    def path_for(self, text: str) -> Path:
        return _cached(self.cache_dir, self.voice, text)

    def render(self, text: str) -> Future[Path]:
        """The WAV file of `text`, from the cache or rendered by the worker."""
        path = self.path_for(text)
        if path.exists():
            done: Future[Path] = Future()
            done.set_result(path)
            return done
        return _Renders.get().submit(_Job(text, self.cache_dir, self.asked, self.fallback))

    def render_all(self, texts: Iterable[str]) -> dict[str, Path]:
        """Render every phrase (waiting for them); raises SpeechError if speech is broken."""
        futures = {text: self.render(text) for text in dict.fromkeys(texts)}
        return {text: f.result() for text, f in futures.items()}

    def prepare(self, texts: Iterable[str]) -> None:
        """Render these ahead, in the background: they are likely to be said soon."""
        for text in texts:
            self.render(text).add_done_callback(_ignore)

    def duration(self, text: str) -> float | None:
        """Seconds the phrase lasts, if it has been rendered (read once from its header)."""
        path = self.path_for(text)
        if path.name not in self._durations:
            if not path.exists():
                return None
            self._durations[path.name] = wav_duration(path)
        return self._durations[path.name]

    def close(self) -> None:
        """Nothing to release: the worker serves the whole process and leaves when idle."""


def set_worker_idle(seconds: float) -> None:
    """How long the worker stays with nothing to render before it leaves (the process's)."""
    _Renders.get().set_idle(seconds)


def worker_pid() -> int | None:
    """The speech worker's process id while it runs (None: not running now)."""
    return _Renders.get().pid


def _cached(cache_dir: Path, voice: VoiceSettings, text: str) -> Path:
    """Where the cache keeps `text` in `voice`."""
    return cache_dir / f"{voice.key(text)}.wav"


def _ignore(future: Future[Path]) -> None:
    future.exception()  # a phrase rendered ahead that failed fails again when it is said


@dataclass(frozen=True)
class _Job:
    text: str
    cache_dir: Path
    voice: VoiceSettings
    fallback: bool
    done: Future[Path] | None = None


class _Renders:
    """The process's one rendering thread and, while there is work, its worker process."""

    _instance: _Renders | None = None
    _lock = threading.Lock()
    unavailable: ClassVar[dict[VoiceSettings, str]] = {}  # voices that could not be loaded, and why

    @classmethod
    def get(cls) -> _Renders:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[_Job, Future[Path]] | None] = queue.Queue()
        self._process = _WorkerProcess()
        self.idle_s = IDLE_S
        threading.Thread(target=self._work, name="speech", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def set_idle(self, seconds: float) -> None:
        self.idle_s = seconds
        self._jobs.put(None)  # the thread waits with the old idle time: wake it to take this

    def submit(self, job: _Job) -> Future[Path]:
        done: Future[Path] = Future()
        self._jobs.put((job, done))
        return done

    def _work(self) -> None:
        while True:
            try:
                item = self._jobs.get(timeout=self.idle_s if self._process.running else None)
            except queue.Empty:
                self._process.stop()
                continue
            if item is None:
                continue  # the idle time changed: wait again with the new one
            job, done = item
            if not done.set_running_or_notify_cancel():
                continue  # nobody waits for it any more (a run or the daemon stopping)
            try:
                done.set_result(self._render(job))
            except SpeechError as err:
                done.set_exception(err)
            except Exception as err:  # any failure must reach the caller
                done.set_exception(SpeechError(f"could not render {job.text!r}: {err}"))

    def _render(self, job: _Job) -> Path:
        voice = job.voice
        if job.fallback and voice in self.unavailable:
            voice = voice.fallback()
        try:
            return self._once(job.text, job.cache_dir, voice)
        except VoiceUnavailable as err:
            if not job.fallback or voice is not job.voice:
                raise
            self.unavailable[voice] = str(err)
            stand_in = voice.fallback()
            log.warning("%s; %s speaks instead", err, stand_in.describe())
            return self._once(job.text, job.cache_dir, stand_in)

    def _once(self, text: str, cache_dir: Path, voice: VoiceSettings) -> Path:
        path = _cached(cache_dir, voice, text)
        if path.exists():  # rendered meanwhile, by this process or another
            return path
        reply = self._process.ask(
            {
                "text": text,
                "path": str(path),
                "engine": voice.engine,
                "voice": voice.voice,
                "rate": voice.rate,
                "volume": voice.volume,
                "lufs": voice.loudness.lufs,
                "peak_db": voice.loudness.peak_db,
                "clarity": voice.clarity,
            }
        )
        if not reply.get("ok"):
            error = VoiceUnavailable if reply.get("unavailable") else SpeechError
            raise error(str(reply.get("error", "the speech worker gave no reason")))
        return path


class _WorkerProcess:
    """The worker process, started on the first request and stopped when let go."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.running:
            self._start()
        proc = self._proc
        assert proc is not None
        stdin, stdout = _pipes(proc)
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.stop()
            raise SpeechError(f"the speech worker stopped (exit status {proc.returncode})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cues.speech.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the worker answers every problem in its replies
                text=True,
                encoding="utf-8",
            )
        except OSError as err:
            raise SpeechError(f"cannot start the speech worker: {err}") from None

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        stdin, stdout = _pipes(proc)
        try:
            stdin.close()  # the end of its requests: it leaves
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        stdout.close()
        self._proc = None  # only once it is gone


def _pipes(proc: subprocess.Popen[str]) -> tuple[IO[str], IO[str]]:
    assert proc.stdin is not None and proc.stdout is not None
    return proc.stdin, proc.stdout
