"""The run history: what keeping an hour of running costs, and reading a year of runs.

1. Write cost. The bundled 25-minute run is analysed once by the engine (its seconds,
   steps, drifts and cues as a run gives them), laid end to end to an hour, and handed
   to the recorder at the pace of a live run's data, with an hour of raw notifications
   beside it (a Polar strap's accelerometer at 200 Hz in frames of 36 samples, made from
   the same recording, a footpod and a heart rate once a second, as a live run writes
   them). Measured: CPU time of the whole process for that hour of data (the loop's
   hand-over and the writer thread's SQLite work), as a share of the hour; commits; and
   the bytes the history grew by per hour, raw data included.
2. A year of runs. Four runs a week for 52 weeks, each 20 to 60 minutes of the real run's
   seconds (with the fault injected at different minutes, so the drift onsets vary), kept
   through the same recorder. Measured: `companion history` (reading and drawing the
   table), the last run's summary, and its report (a PNG with its trends over the
   year), each against the same on a history of that single run.

Run: .venv/bin/python bench/history.py
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from companion.cli.history import cmd_history  # noqa: E402
from companion.coaching.engine import EngineSettings, RunEngine  # noqa: E402
from companion.coaching.events import Event, RunStarted, Summary  # noqa: E402
from companion.form.record import Second  # noqa: E402
from companion.form.rules import load_rules  # noqa: E402
from companion.form.trunk import AnalysisSettings  # noqa: E402
from companion.history.recorder import NewRun, RunRecorder  # noqa: E402
from companion.history.runs import summary_of  # noqa: E402
from companion.history.store import Store  # noqa: E402
from companion.run.demo import demo_recording  # noqa: E402
from companion.run.inject import FormFault  # noqa: E402
from cues.catalogue import load_catalogue  # noqa: E402
from sensors.protocols import pmd  # noqa: E402
from sensors.recorded.rawlog import RawLogWriter  # noqa: E402
from sensors.recorded.recording import timed_samples  # noqa: E402

HOUR_S = 3600
SETTINGS = EngineSettings(analysis=replace(AnalysisSettings(), sensor_wait_s=15.0))


def analysed(fault_start_s: float) -> tuple[list[Event], list[Second], float]:
    """The engine's events and seconds for the bundled run with the fault at a minute."""
    recording, _ = demo_recording(replace(demo_fault(), start_s=fault_start_s))
    engine = RunEngine(load_catalogue(), load_rules(), SETTINGS)
    seconds: list[Second] = []
    engine.on_second = seconds.append
    events = list(engine.start())
    end = 0.0
    for _, sample in timed_samples(recording, 10.0):
        events += engine.feed(sample)
        end = float(sample.t[-1]) if isinstance(sample.t, np.ndarray) else sample.t
    closing, stats = engine.finish(end)
    events += closing
    events.append(Summary(t=stats.duration_s, text="", stats=stats.to_dict()))
    return events, seconds, end


def demo_fault() -> FormFault:
    from companion.run.demo import DEMO_FAULT

    return DEMO_FAULT


def laid_to(
    events: list[Event], seconds: list[Second], length_s: float, run_s: float
) -> tuple[list[Event], list[Second]]:
    """The run's events (but its summary) and seconds repeated end to end to `length_s`."""
    out_e: list[Event] = []
    out_s: list[Second] = []
    offset, lap = 0.0, 0
    while offset < length_s:
        for s in seconds:
            if s.t + offset <= length_s:
                out_s.append(replace(s, t=s.t + offset))
        for e in events:
            if isinstance(e, Summary) or e.t + offset > length_s:
                continue
            if lap == 0 or not hasattr(e, "episode") or not isinstance(e.episode, dict):
                out_e.append(replace(e, t=e.t + offset))
        offset += run_s
        lap += 1
    return out_e, out_s


def raw_records(seconds: float) -> list[bytes]:
    """An hour of what a live run's raw log holds, as records."""
    recording, _ = demo_recording()
    mg = np.rint(recording.accel[0].xyz * 1000).astype(np.int64)
    mg = np.repeat(mg, 2, axis=0)  # 100 Hz as the 200 Hz a strap is asked for
    records: list[bytes] = []
    sink = io.BytesIO()
    writer = RawLogWriter(sink)
    writer.also = records.append
    strap = {"address": "A0:9E:1A:00:00:01", "name": "Polar H10", "role": "chest"}
    pod = {"address": "C0:00:00:00:00:02", "name": "Footpod", "role": "footpod"}
    n = 36
    for i in range(0, int(seconds * 200) - n, n):
        t = (i + n) / 200
        rows = mg[i % (len(mg) - n) :][:n]
        frame = pmd.encode_frame(pmd.Measurement.ACC, int(t * 1e9), rows, 0x01)
        writer.packet(t, strap, pmd.DATA, frame)
        if int(t) != int(t - n / 200):  # once a second
            writer.packet(t, pod, "00002a53-0000-1000-8000-00805f9b34fb", b"\x02\x8c\x01\x55")
            writer.packet(t, strap, "00002a37-0000-1000-8000-00805f9b34fb", b"\x00\x96")
    return records


def write_hour(
    db: Path, events: list[Event], seconds: list[Second], raw: list[bytes]
) -> dict[str, float]:
    """Hand an hour to the recorder as a live run does (interleaved, by run time)."""
    per_second: dict[int, list[bytes]] = {}
    for k, rec in enumerate(raw):
        per_second.setdefault(int(k * HOUR_S / len(raw)), []).append(rec)
    by_t: dict[int, list[Event]] = {}
    for e in events:
        by_t.setdefault(int(e.t), []).append(e)
    before = db.stat().st_size if db.exists() else 0
    cpu, wall = time.process_time(), time.perf_counter()
    recorder = RunRecorder(db, NewRun("run-hour", datetime.now().astimezone(), "bench", "live"))
    recorder.show(RunStarted(t=0.0, source="bench", sensor="Polar H10", placement="chest"))
    for s in seconds:
        for rec in per_second.get(int(s.t), ()):
            recorder.raw(rec)
        for e in by_t.get(int(s.t), ()):
            recorder.show(e)
        recorder.second(s)
    recorder.close()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with Store(db) as history:
        history.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw_kept, chunks = history.raw_size(history.run("run-hour").id)
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": db.stat().st_size - before,
        "raw_bytes": float(sum(map(len, raw))),
        "raw_kept": float(raw_kept),
        "chunks": float(chunks),
    }


def year(db: Path, variants: list[tuple[list[Event], list[Second], float]]) -> int:
    """Four runs a week for a year, kept as imports are."""
    rng = random.Random(7)
    start = datetime.fromisoformat("2025-11-24T07:00:00+01:00")
    count = 0
    for week in range(52):
        for day in (0, 2, 4, 6):
            events, seconds, run_s = rng.choice(variants)
            length = rng.uniform(20, 60) * 60
            evs, secs = laid_to(events, seconds, length, run_s)
            when = start + timedelta(weeks=week, days=day, minutes=rng.randint(0, 600))
            new = NewRun(f"run-{when:%Y%m%d-%H%M%S}", when, "bench", "import")
            with RunRecorder(db, new, commit_every_s=300.0) as recorder:
                for e in evs:
                    recorder.show(e)
                for s in secs:
                    recorder.second(s)
                from companion.coaching.summary import stats_of

                stats = stats_of(secs, [], [])
                recorder.show(Summary(t=length, text="", stats=_with_drift(stats, evs)))
            count += 1
    return count


def _with_drift(stats: object, events: list[Event]) -> dict[str, object]:
    from companion.coaching.summary import RunStats

    assert isinstance(stats, RunStats)
    out = stats.to_dict()
    out["drift_episodes"] = [e.episode for e in events if getattr(e, "kind", "") == "drift_start"]  # type: ignore[attr-defined]
    return out


def timed(work: object, repeat: int = 5) -> float:
    """Median seconds of `work()`."""
    assert callable(work)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    threadpool_limits(limits=1, user_api="blas")
    console = Console()
    with console.status("Analysing the bundled run with the fault at four minutes…"):
        variants = [analysed(start) for start in (420.0, 560.0, 800.0, 1100.0)]
    events, seconds, run_s = variants[1]
    hour_e, hour_s = laid_to(events, seconds, HOUR_S, run_s)
    with console.status("An hour of raw notifications…"):
        raw = raw_records(HOUR_S)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "hour.sqlite"
        with console.status("Writing an hour…"):
            hour = write_hour(db, hour_e, hour_s, raw)

        one = Path(tmp) / "one.sqlite"
        full = Path(tmp) / "year.sqlite"
        with console.status("Keeping a year of runs…"):
            t = time.perf_counter()
            runs = year(full, variants)
            build_s = time.perf_counter() - t
            new = NewRun("run-one", datetime.now().astimezone(), "bench", "import")
            with RunRecorder(one, new, commit_every_s=300.0) as recorder:
                for e in events:
                    recorder.show(e)
                for s in seconds:
                    recorder.second(s)

        null = Console(file=io.StringIO(), width=120)

        def history(path: Path) -> float:
            import argparse

            import companion.cli.history as hc

            def once() -> None:
                with Store(path) as h:
                    h.runs()
                cmd_history(argparse.Namespace(limit=None, json=False), null)

            hc.open_history = lambda: Store(path)  # type: ignore[assignment]
            return timed(once)

        def summary(path: Path) -> float:
            def once() -> None:
                with Store(path) as h:
                    summary_of(h, h.run())

            return timed(once)

        def report(path: Path) -> float:
            from companion.form.rules import load_rules
            from companion.history.report import gather, render

            rules = load_rules()

            def once() -> None:
                with Store(path) as h:
                    render(gather(h, h.run(), rules), "png")

            return timed(once, repeat=3)

        rows = [
            ("history table", history(one), history(full)),
            ("summary of the last run", summary(one), summary(full)),
            ("report of the last run (PNG, with trends)", report(one), report(full)),
        ]
        size_year = full.stat().st_size

    table = Table(title="History: writing an hour of running")
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row("CPU for an hour of data (loop + writer)", f"{hour['cpu_s']:.2f} s")
    table.add_row("… as a share of the hour", f"{100 * hour['cpu_s'] / HOUR_S:.3f} %")
    table.add_row("wall time to hand over and write it", f"{hour['wall_s']:.1f} s")
    table.add_row("history grew by", f"{hour['bytes'] / 2**20:.1f} MiB per hour")
    table.add_row(
        "raw notifications",
        f"{hour['raw_bytes'] / 2**20:.1f} MiB → {hour['raw_kept'] / 2**20:.1f} MiB kept "
        f"({hour['raw_bytes'] / max(hour['raw_kept'], 1):.1f}× smaller, "
        f"{hour['chunks']:.0f} chunks)",
    )
    console.print(table)
    table = Table(title=f"History: a year of runs ({runs} runs, {size_year / 2**20:.0f} MiB)")
    for column in ("task", "one run", "a year", "year / one"):
        table.add_column(column, justify="right")
    for name, a, b in rows:
        table.add_row(name, f"{1000 * a:.1f} ms", f"{1000 * b:.1f} ms", f"{b / a:.1f}×")
    console.print(table)
    console.print(f"[dim]Keeping the year took {build_s:.0f} s.")


if __name__ == "__main__":
    main()
