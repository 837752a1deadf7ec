"""A small world of virtual BLE sensors on one virtual link, for the live-path tests.

Everything is real except the radio: Bumble's host stack on both sides, bleak over our
Bumble backend, bleak-retry-connector, the GATT protocol and every byte on the link.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bumble.link import LocalLink

from sensors.bluetooth.bumble_backend import CENTRAL_ADDRESS, BumbleRadio
from sensors.bluetooth.bumble_link import local_device
from sensors.bluetooth.live import LiveSettings, LiveSource
from sensors.bluetooth.transport import Transport
from sensors.bluetooth.virtual import (
    Motion,
    Playback,
    Script,
    VirtualSensor,
)
from sensors.clock import PacedClock
from sensors.profiles import PairedSensor, Role
from sensors.recorded.rawlog import RawLogWriter
from sensors.recorded.recording import AccelTrack
from sensors.samples import AccelBatch, Sample

FOOTPOD, STRAP, BOARD, TWIN = (f"F0:5C:00:00:00:0{i}" for i in (1, 2, 3, 9))
FAST = LiveSettings(acc_rate_hz=100, scan_s=2.0, backoff_s=0.2, backoff_max_s=1.0)


def footpod_script(length_s: float = 2000.0, cadence: float = 158.0) -> Script:
    t = np.arange(0.0, length_s)
    return Script(
        t,
        {
            "speed_mps": np.full(t.size, 3.1),
            "cadence_spm": np.full(t.size, cadence),
            "distance_m": 3.1 * t,
        },
    )


def heart_script(length_s: float = 2000.0, bpm: float = 150.0) -> Script:
    t = np.arange(0.0, length_s)
    return Script(t, {"bpm": np.full(t.size, bpm)})


@dataclass
class World:
    link: LocalLink
    playback: Playback
    sensors: dict[str, VirtualSensor] = field(default_factory=dict)

    def add(self, address: str, kind: type[VirtualSensor], name: str, **kw: Any) -> Any:
        sensor = kind(local_device(self.link, name, address), name, self.playback, **kw)
        self.sensors[address] = sensor
        return sensor

    def live(
        self,
        paired: list[tuple[str, Role]],
        raw_log: RawLogWriter | None = None,
        settings: LiveSettings = FAST,
    ) -> LiveSource:
        sensors = [PairedSensor(a, role, self.sensors[a].name) for a, role in paired]
        return LiveSource(sensors, Transport("bumble"), PacedClock(1.0), settings, raw_log)


@asynccontextmanager
async def world(speed: float = 10.0, start_s: float = 60.0) -> AsyncIterator[World]:
    w = World(LocalLink(), Playback(speed=speed, start_s=start_s))  # type: ignore[no-untyped-call]
    yield w
    for sensor in w.sensors.values():
        await sensor.stop()


async def start(w: World) -> None:
    for sensor in w.sensors.values():
        await sensor.start()
    BumbleRadio.configure(device=local_device(w.link, "product", CENTRAL_ADDRESS))


async def collect(source: LiveSource, seconds: float, until: Any = None) -> list[Sample]:
    """Samples from `source` for `seconds`, or until `until(samples)` is true."""
    out: list[Sample] = []
    stream = source.stream()

    async def gather() -> None:
        async for sample in stream:
            out.append(sample)
            if until is not None and until(out):
                return

    try:
        await asyncio.wait_for(gather(), timeout=seconds)
    except TimeoutError:
        pass
    finally:
        await stream.aclose()
    return out


def motion(track: AccelTrack) -> Motion:
    return Motion(track.t, track.xyz)


def accel(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    batches = [s for s in samples if isinstance(s, AccelBatch)]
    if not batches:
        return np.empty(0), np.empty((0, 3))
    return np.concatenate([b.t for b in batches]), np.vstack([b.xyz for b in batches])
