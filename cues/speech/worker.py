"""The speech worker: a process that renders phrases to WAV files, started by the renderer.

A loaded Piper voice holds over 130 MiB and onnxruntime its threads; in a process of its own
they leave with it when it has been idle a while, and the daemon stays small. The worker
also keeps espeak-ng's process-wide state and the loudness meter out of the daemon.

Protocol: one JSON request per line on stdin, one JSON reply per line on the worker's
protocol pipe (its stdout at start; whatever else writes to stdout, C libraries included,
goes to stderr instead). The worker exits at the end of stdin: when the renderer lets it go,
or when the process that started it is gone.

    request: {"text", "path", "engine", "voice", "rate", "volume", "lufs", "peak_db", "clarity"}
    reply:   {"ok": true, "seconds": float} or {"ok": false, "error": str, "unavailable": bool}
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Protocol

from cues.loudness import Loudness, Samples, normalised
from cues.speech.clarity import clarified
from cues.speech.errors import SpeechError, VoiceUnavailable
from cues.wavfile import write_wav

MIN_FREE_BYTES = 4 << 20  # a phrase is about 100 kB; leave room to spare


class Engine(Protocol):
    def speak(self, text: str, voice: str | None, rate: int) -> tuple[Samples, int]: ...


class Worker:
    """Renders requests with whichever engine each names, loading it on first use."""

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            if name == "piper":
                from cues.speech.piper import PiperEngine

                self._engines[name] = PiperEngine()
            elif name == "pyttsx3":
                from cues.speech.espeak import EspeakEngine

                self._engines[name] = EspeakEngine()
            else:
                raise VoiceUnavailable(f"no speech engine {name!r}")
        return self._engines[name]

    def render(self, request: dict[str, Any]) -> float:
        """Writes the phrase's file; its seconds."""
        path = Path(request["path"])
        _check_room(path.parent)
        samples, rate = self.engine(request["engine"]).speak(
            request["text"], request["voice"], int(request["rate"])
        )
        if request.get("clarity"):
            samples = clarified(samples, rate)
        level = Loudness(float(request["lufs"]), float(request["peak_db"]))
        out = normalised(samples, rate, level) * float(request["volume"])
        try:
            write_wav(path, out, rate)
        except OSError as err:
            raise SpeechError(f"cannot write speech in {path.parent}: {err.strerror}") from None
        return out.size / rate

    def answer(self, line: str) -> dict[str, Any]:
        try:
            return {"ok": True, "seconds": self.render(json.loads(line))}
        except VoiceUnavailable as err:
            return {"ok": False, "error": str(err), "unavailable": True}
        except SpeechError as err:
            return {"ok": False, "error": str(err), "unavailable": False}
        except Exception as err:  # any engine failure must reach the caller, as one line
            return {"ok": False, "error": f"{type(err).__name__}: {err}", "unavailable": False}


def _check_room(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        free = shutil.disk_usage(folder).free
    except OSError as err:
        raise SpeechError(f"cannot use the speech cache {folder}: {err.strerror}") from None
    if free < MIN_FREE_BYTES or not os.access(folder, os.W_OK):
        raise SpeechError(f"no room to write speech in {folder}")


def main() -> int:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints never reach the protocol
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which lets us go
    os.nice(5)  # rendering ahead must never take the processor from the live path
    worker = Worker()
    for line in sys.stdin:
        replies.write(json.dumps(worker.answer(line)) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
