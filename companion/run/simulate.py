"""`companion simulate`: virtual sensors playing a recording, for a live run to connect to.

The simulator owns a Bumble virtual link with a footpod and a Polar-style strap on it (and,
if asked, a board on our plain IMU profile), and serves one more virtual controller on
127.0.0.1:PORT for the product: ``companion run --transport bumble:tcp-client:127.0.0.1:PORT``.
Stop it and start it again, or give it dropouts, to watch the run lose and find its sensors.

The bundled recording has neither a footpod nor a heart rate. The footpod then reports the
recording's own cadence (from the analysis) and a speed from an assumed step length; the
strap a heart rate that rises with running and falls in the stops. Both are labelled as
made up when the simulator starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from bumble.link import LocalLink

from companion.form.trunk import TrunkAnalyzer
from sensors.bluetooth.bumble_link import local_device, serve_controller
from sensors.bluetooth.virtual import (
    Motion,
    Playback,
    Script,
    VirtualFootpod,
    VirtualImu,
    VirtualSensor,
    VirtualStrap,
)
from sensors.recorded.recording import AccelTrack, Recording

FOOTPOD, STRAP, BOARD = "F0:5C:00:00:00:01", "F0:5C:00:00:00:02", "F0:5C:00:00:00:03"
STEP_M = 1.1  # assumed step length when the recording has no footpod


@dataclass(frozen=True)
class SimulateOptions:
    port: int = 9001
    speed: float = 1.0
    start_s: float = 0.0
    dropouts: tuple[tuple[float, float], ...] = ()  # (at, for) in recording seconds
    battery: int = 85
    strides: bool = False  # the footpod counts strides, as some do
    compressed: bool = False  # delta-compressed accelerometer frames
    imu_board: bool = False  # also a board on the plain IMU profile


def footpod_script(recording: Recording, track: AccelTrack) -> tuple[Script, str | None]:
    """What the footpod reports each second: the recording's own, or derived from it."""
    t = np.arange(0.0, np.ceil(recording.duration_s) + 1)
    if recording.footpod:
        fp = recording.footpod
        times = np.array([s.t for s in fp])

        def col(name: str) -> np.ndarray:
            values = np.array([getattr(s, name) or 0.0 for s in fp])
            return np.asarray(np.interp(t, times, values), dtype=np.float64)

        names = ("speed_mps", "cadence_spm", "distance_m")
        return Script(t, {name: col(name) for name in names}), None
    analyzer = TrunkAnalyzer(track.sensor, track.placement)
    windows = [w for b in track.batches(10.0) for w in analyzer.feed(b)]
    wt = np.array([w.t for w in windows])
    cadence = np.array([w.cadence_spm if w.running and w.cadence_spm else 0.0 for w in windows])
    cadence = np.interp(t, wt, cadence, left=0.0, right=0.0)
    speed = cadence / 60 * STEP_M
    note = (
        f"Footpod: cadence from the recording itself, speed from an assumed {STEP_M} m "
        "step (the recording has no footpod)."
    )
    columns = {"speed_mps": speed, "cadence_spm": cadence, "distance_m": np.cumsum(speed)}
    return Script(t, columns), note


def heart_script(recording: Recording, footpod: Script) -> tuple[Script, str | None]:
    if recording.heart_rate:
        times = np.array([s.t for s in recording.heart_rate])
        bpm = np.array([s.bpm for s in recording.heart_rate])
        return Script(footpod.t, {"bpm": np.interp(footpod.t, times, bpm)}), None
    # Made up: rises towards 155 while running and falls towards 95 at rest, 30 s lag.
    running = footpod.columns["cadence_spm"] > 0
    bpm = np.empty(footpod.t.size)
    level = 95.0
    for i, run in enumerate(running):
        level += ((155.0 if run else 95.0) - level) / 30.0
        bpm[i] = level
    return Script(footpod.t, {"bpm": bpm}), (
        "Heart rate: made up from running and stopping (the recording has none)."
    )


async def simulate(
    recording: Recording,
    options: SimulateOptions,
    ready: Callable[[list[tuple[str, str, str]], list[str]], None],
) -> None:
    """Run the virtual sensors until interrupted; `ready(sensors, notes)` once they
    advertise, the notes saying what was made up."""
    trunk = recording.trunk_tracks() or recording.accel
    track = trunk[0]
    link = LocalLink()  # type: ignore[no-untyped-call]
    await serve_controller(link, options.port)
    playback = Playback(speed=options.speed, start_s=options.start_s)
    script, footpod_note = footpod_script(recording, track)
    heart, heart_note = heart_script(recording, script)
    notes = [n for n in (footpod_note, heart_note) if n]
    sensors: list[tuple[VirtualSensor, str]] = [
        (
            VirtualFootpod(
                local_device(link, "footpod", FOOTPOD),
                "Virtual Footpod",
                playback,
                battery=options.battery,
                script=script,
                strides=options.strides,
            ),
            "footpod",
        ),
        (
            VirtualStrap(
                local_device(link, "strap", STRAP),
                "Virtual Strap",
                playback,
                battery=options.battery,
                motion=Motion(track.t, track.xyz),
                heart=heart,
                compressed=options.compressed,
            ),
            track.placement.value,
        ),
    ]
    if options.imu_board:
        sensors.append(
            (
                VirtualImu(
                    local_device(link, "board", BOARD),
                    "Virtual IMU Board",
                    playback,
                    battery=options.battery,
                    motion=Motion(track.t, track.xyz),
                ),
                track.placement.value,
            )
        )
    for sensor, _ in sensors:
        await sensor.start()
    ready([(s.device.random_address.to_string(False), s.name, role) for s, role in sensors], notes)

    async def dropouts() -> None:
        strap = sensors[1][0]
        for at, lasting in options.dropouts:
            await playback.until(at)
            await strap.go_away()
            await playback.until(at + lasting)
            await strap.come_back()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    trouble = asyncio.create_task(dropouts())
    await stop.wait()
    trouble.cancel()
    for sensor, _ in sensors:
        with contextlib.suppress(Exception):
            await sensor.stop()
