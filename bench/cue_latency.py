"""Time from the coach's decision to say a cue to its first sound at the sink, p50 and p95.

A private PulseAudio server with a null sink stands for the headphones; its monitor is
recorded with parec. A player process decides to say each cue (the moment the coach's
policy would), gets its speech (rendered then: cold; from the speech cache: warm) and plays
it through PortAudio. Each cue comes after 3 s of quiet, so the output stream opens again
each time, as between cues in a run. The recording is placed in time by its byte count
(read from parec as it arrives, each chunk timed: to a few milliseconds).

Measured with no pre-roll; the player's default pre-roll (0.3 s of near-silence for
Bluetooth headphones to wake) adds exactly its length before the first word.

Run: .venv/bin/python bench/cue_latency.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from companion.cli.cues import wordings
from cues.catalogue import load_catalogue

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.pulse import PulseSink, start_pulse

RATE = 22050
PLAYER = """
import json, sys, time
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, DevicePlayer, WavFileSink
from cues.speech import SpeechRenderer
cache, texts = Path(sys.argv[1]), json.loads(sys.argv[2])
renderer = SpeechRenderer(cache)
renderer.render("Warm-up phrase.").result()  # starting the engine is not per cue
player = DevicePlayer(lambda: WavFileSink(cache / "files", write_new), pre_roll_s=0.0)
decided = []
for text in texts:
    time.sleep(3.0)  # the stream closes after 2 s of quiet
    decided.append(time.time())
    player.play(Clip(path=renderer.render(text).result(), label="cue", t=0.0))
    while player.pending():
        time.sleep(0.005)
player.close()
renderer.close()
print(json.dumps(decided))
"""


class Recorder:
    """The sink's monitor read from parec's output as it arrives, each chunk timed: the
    earliest (arrival - samples so far / rate) places the recording in wall-clock time."""

    def __init__(self, sink: PulseSink):
        self.proc = subprocess.Popen(
            ["parec", "--device=coach.monitor", f"--rate={RATE}", "--channels=1",
             "--format=s16le", "--raw", "--latency-msec=5"],
            env=sink.env,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        self.chunks: list[bytes] = []
        self.start = float("inf")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        total = 0
        while chunk := self.proc.stdout.read1(882):
            now = time.time()
            self.chunks.append(chunk)
            total += len(chunk) // 2
            self.start = min(self.start, now - total / RATE)

    def stop(self) -> np.ndarray:
        time.sleep(0.5)
        self.proc.terminate()
        self._thread.join(timeout=5)
        raw = b"".join(self.chunks)
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float64) / 32768


def latencies(sink: PulseSink, cache: Path, texts: list[str]) -> list[float]:
    recorder = Recorder(sink)
    time.sleep(1.0)  # capturing, and the start well placed
    done = subprocess.run(
        [sys.executable, "-c", PLAYER, str(cache), json.dumps(texts)],
        env=sink.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    heard = recorder.stop()
    out = []
    for decided in json.loads(done.stdout):
        # From a little before the decision (the timeline is known to a few ms) to two
        # seconds after: the cue's own first sound, never the next cue's.
        at = int((decided - recorder.start) * RATE)
        lo, hi = max(at - int(0.05 * RATE), 0), at + 2 * RATE
        loud = np.flatnonzero(np.abs(heard[lo:hi]) > 0.02)
        out.append((lo + float(loud[0]) - at) / RATE if loud.size else float("nan"))
    return out


def main() -> int:
    console = Console()
    texts = [text for cue in load_catalogue() for _, text in wordings(cue)][:12]
    table = Table(title="Cue latency: decision to first sound at the sink (no pre-roll)")
    for column in ("speech", "cues", "p50", "p95", "max"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sink = start_pulse(work / "pulse")
        try:
            cache = work / "cache"
            for name in ("cold (rendered on demand)", "warm (from the speech cache)"):
                found = np.array(latencies(sink, cache, texts))
                ms = 1000 * found[np.isfinite(found)]
                table.add_row(
                    name, f"{ms.size} of {found.size}", f"{np.percentile(ms, 50):.0f} ms",
                    f"{np.percentile(ms, 95):.0f} ms", f"{ms.max():.0f} ms",
                )  # fmt: skip
        finally:
            sink.kill()
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
