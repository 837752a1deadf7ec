"""CPU used by the live path, as a fraction of one core.

`companion simulate` runs in another process (a footpod, and a Polar-style strap streaming
its accelerometer at 200 Hz, with heart rate); this process connects to it over the Bumble
transport exactly as `companion run` does and streams for a while, twice: once taking the
samples only (BLE stack, decoders, raw log) and once also coaching them (the engine). The
figures are this process's CPU time over wall time in the same run.

Run: .venv/bin/python bench/live_cpu.py [seconds per pass, default 30]
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from companion.coaching.engine import RunEngine
from companion.form.rules import load_rules
from cues.catalogue import load_catalogue
from sensors.bluetooth.live import LiveSettings, LiveSource
from sensors.bluetooth.transport import Transport
from sensors.clock import PacedClock
from sensors.profiles import PairedSensor, Role
from sensors.recorded.rawlog import RawLogWriter
from sensors.samples import AccelBatch, FootpodSample, HeartRateSample

COMPANION = str(Path(sys.executable).parent / "companion")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one_pass(port: int, seconds: float, coach: bool) -> dict[str, float]:
    sensors = [
        PairedSensor("F0:5C:00:00:00:01", Role.FOOTPOD, "footpod"),
        PairedSensor("F0:5C:00:00:00:02", Role.CHEST, "strap"),
    ]
    counts = {"accel": 0, "footpod": 0, "heart": 0}
    engine = RunEngine(load_catalogue(), load_rules()) if coach else None
    with tempfile.TemporaryDirectory() as tmp:
        log = RawLogWriter.create(Path(tmp) / "bench.pcraw")
        source = LiveSource(
            sensors,
            Transport.parse(f"bumble:tcp-client:127.0.0.1:{port}"),
            PacedClock(1.0),
            LiveSettings(acc_rate_hz=200),
            log,
        )
        stream = source.stream()
        # Connect first: the figures are for streaming, not for finding the sensors.
        async for sample in stream:
            if isinstance(sample, AccelBatch):
                break
        wall, cpu = time.perf_counter(), time.process_time()
        async for sample in stream:
            if isinstance(sample, AccelBatch):
                counts["accel"] += len(sample.t)
            elif isinstance(sample, FootpodSample):
                counts["footpod"] += 1
            elif isinstance(sample, HeartRateSample):
                counts["heart"] += 1
            if engine is not None:
                engine.feed(sample)
            if time.perf_counter() - wall >= seconds:
                break
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await stream.aclose()
        log.close()
    return {
        "cpu": cpu / wall,
        "accel_hz": counts["accel"] / wall,
        "footpod_hz": counts["footpod"] / wall,
        "heart_hz": counts["heart"] / wall,
    }


def main() -> int:
    threadpool_limits(limits=1, user_api="blas")  # as `companion run` does
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    port = free_port()
    sim = subprocess.Popen(
        [COMPANION, "simulate", "--port", str(port), "--start", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert sim.stdout is not None
        for line in sim.stdout:
            if "companion run --transport" in line:
                break
        table = Table(title=f"live path, {seconds:g} s per pass, simulator in another process")
        for column in (
            "pass",
            "CPU (fraction of one core)",
            "accelerometer",
            "footpod",
            "heart rate",
        ):
            table.add_column(column)

        # One event loop for both passes, as in `companion run`: the Bumble radio is made
        # once per process and lives on the loop it was made on.
        async def both() -> list[dict[str, float]]:
            return [await one_pass(port, seconds, coach) for coach in (False, True)]

        labels = ("stack, decoders, raw log", "... and the engine")
        for label, r in zip(labels, asyncio.run(both()), strict=True):
            table.add_row(
                label,
                f"{r['cpu']:.3f}",
                f"{r['accel_hz']:.0f} samples/s",
                f"{r['footpod_hz']:.1f}/s",
                f"{r['heart_hz']:.1f}/s",
            )
        Console().print(table)
    finally:
        sim.terminate()
        sim.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
