"""Typed samples: what every source (live sensor, recording, demo) hands to the analysis.

Times are run seconds (seconds since the run clock started), the same clock for every sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Placement(StrEnum):
    """Where a motion sensor sits on the body; it decides which faults a tilt suggests."""

    CHEST = "chest"
    PELVIS = "pelvis"
    OTHER = "other"  # ankle, wrist, ...: recorded, not used for posture


@dataclass(frozen=True, slots=True)
class AccelBatch:
    """Consecutive accelerometer samples from one sensor, in g, in the sensor's own axes."""

    sensor: str
    placement: Placement
    t: FloatArray  # shape (n,)
    xyz: FloatArray  # shape (n, 3)

    def __post_init__(self) -> None:
        if self.t.ndim != 1 or self.xyz.shape != (self.t.size, 3):
            raise ValueError(
                f"accelerometer batch from {self.sensor!r}: {self.t.shape} times "
                f"but {self.xyz.shape} values (expected (n,) and (n, 3))"
            )


@dataclass(frozen=True, slots=True)
class GyroBatch:
    """Consecutive gyroscope samples from one sensor, in degrees per second, sensor axes."""

    sensor: str
    placement: Placement
    t: FloatArray  # shape (n,)
    xyz: FloatArray  # shape (n, 3)


@dataclass(frozen=True, slots=True)
class FootpodSample:
    """One Running Speed and Cadence reading. Cadence is in steps (both feet) per minute."""

    t: float
    speed_mps: float | None = None
    cadence_spm: float | None = None
    stride_m: float | None = None
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class HeartRateSample:
    """One heart-rate reading with the RR intervals (seconds) that came with it."""

    t: float
    bpm: float
    rr_s: tuple[float, ...] = ()


class Link(StrEnum):
    """What happened to a sensor's connection."""

    CONNECTED = "connected"
    LOST = "lost"
    BACK = "back"


@dataclass(frozen=True, slots=True)
class SensorStatus:
    """A sensor connected, was lost mid-run, or came back (its data has a gap between)."""

    t: float
    sensor: str
    role: str
    link: Link


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    t: float
    sensor: str
    role: str
    percent: int


Sample = AccelBatch | GyroBatch | FootpodSample | HeartRateSample | SensorStatus | BatteryLevel
