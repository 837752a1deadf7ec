"""How fast and how small the run path is, measured in one run on real data.

Prints ratios, not verdicts:
- analysis (the pure engine: steps, alignment, drift, coach) time over recording time, for
  the 25-minute outdoor run as recorded and with the demo's fault injected;
- peak memory the engine allocates over that run (tracemalloc);
- speech: milliseconds to render one phrase with espeak-ng (cold cache), and the rendered
  audio's length over the time it took to render.

Run: .venv/bin/python bench/pipeline.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from companion.coaching.engine import RunEngine
from companion.form.rules import load_rules
from companion.run.demo import DEMO_RECORDING, demo_recording
from cues.catalogue import load_catalogue
from cues.speech import SpeechRenderer
from cues.wavfile import wav_duration
from sensors.recorded.recording import AccelTrack, load_recording
from sensors.samples import AccelBatch


def coach(batches: list[AccelBatch]) -> None:
    engine = RunEngine(load_catalogue(), load_rules())
    engine.start()
    for batch in batches:
        engine.feed(batch)
    engine.finish()


def engine_seconds(track: AccelTrack) -> tuple[float, int]:
    """Seconds to coach the whole track, and the peak bytes allocated doing it (measured in
    a second pass: tracing allocations slows the code several times over)."""
    batches = list(track.batches(0.2))  # what a source hands over, made beforehand
    start = time.perf_counter()
    coach(batches)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    coach(batches)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


def main() -> int:
    threadpool_limits(limits=1, user_api="blas")  # as `companion` does
    console = Console()
    table = Table(title="posture-companion pipeline benchmark")
    for column in ("what", "measured", "ratio"):
        table.add_column(column)

    clean = load_recording(DEMO_RECORDING).track("hip")
    faulted = demo_recording()[0].track("hip")
    for name, track in (("as recorded", clean), ("with the demo fault", faulted)):
        duration = float(track.t[-1] - track.t[0])
        elapsed, peak = engine_seconds(track)
        table.add_row(
            f"engine, 25-min run {name}",
            f"{elapsed:.2f} s for {duration:.0f} s",
            f"{elapsed / duration:.5f} of real time ({duration / elapsed:.0f}x)",
        )
        table.add_row(f"engine peak memory, {name}", f"{peak / 1e6:.1f} MB", "")

    texts = load_catalogue().texts()
    with tempfile.TemporaryDirectory() as cache:
        renderer = SpeechRenderer(Path(cache))
        renderer.render("Warm-up phrase.").result()  # engine start-up is not per phrase
        start = time.perf_counter()
        paths = renderer.render_all(texts)
        elapsed = time.perf_counter() - start
        audio = sum(wav_duration(p) for p in paths.values())
    table.add_row(
        f"speech, {len(texts)} catalogue phrases, cold cache",
        f"{1000 * elapsed / len(texts):.1f} ms per phrase",
        f"{audio / elapsed:.0f}x faster than spoken",
    )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
