"""Running Speed and Cadence (service 0x1814): measurement 0x2A53 and feature 0x2A54.

Measurement layout (little-endian): flags uint8 (bit 0 stride length present, bit 1 total
distance present, bit 2 running rather than walking); speed uint16 in 1/256 m/s; cadence
uint8 per minute; [stride length uint16 in cm]; [total distance uint32 in dm].

The spec's cadence counts footfalls (steps) per minute, but some footpods send strides (one
foot) per minute, half as many. `CadenceUnit` tells them apart from the runner's own data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from statistics import median

from sensors.protocols.errors import DecodeError, need

MEASUREMENT = "RSC measurement"
FEATURE = "RSC feature"


@dataclass(frozen=True, slots=True)
class RscMeasurement:
    speed_mps: float
    cadence_per_min: int  # as sent: steps per minute by the spec, strides by some devices
    stride_length_m: float | None = None
    total_distance_m: float | None = None
    running: bool = False  # the walking/running status bit


def decode_measurement(data: bytes) -> RscMeasurement:
    need(MEASUREMENT, data, 4, "flags, speed and cadence")
    flags = data[0]
    speed, cadence = struct.unpack_from("<HB", data, 1)
    at = 4
    stride = distance = None
    if flags & 0x01:
        need(MEASUREMENT, data, at + 2, "stride length")
        (stride_cm,) = struct.unpack_from("<H", data, at)
        stride, at = stride_cm / 100.0, at + 2
    if flags & 0x02:
        need(MEASUREMENT, data, at + 4, "total distance")
        (distance_dm,) = struct.unpack_from("<I", data, at)
        distance, at = distance_dm / 10.0, at + 4
    if len(data) != at:
        raise DecodeError(MEASUREMENT, data, f"{len(data) - at} bytes more than its flags say")
    return RscMeasurement(speed / 256.0, cadence, stride, distance, bool(flags & 0x04))


@dataclass(frozen=True, slots=True)
class RscFeature:
    stride_length: bool
    total_distance: bool
    walking_or_running: bool
    calibration: bool
    multiple_locations: bool


def decode_feature(data: bytes) -> RscFeature:
    need(FEATURE, data, 2, "the feature bits")
    if len(data) != 2:
        raise DecodeError(FEATURE, data, f"expected 2 bytes, got {len(data)}")
    (bits,) = struct.unpack("<H", data)
    return RscFeature(*(bool(bits & (1 << i)) for i in range(5)))


class CadenceUnit(StrEnum):
    AUTO = "auto"
    STEPS = "steps"
    STRIDES = "strides"


class CadenceNormalizer:
    """Turns a footpod's cadence into steps per minute.

    With `AUTO`, it watches the first readings taken at a running pace: running cadence is
    130 to 220 steps a minute, so a footpod that reports a median under 115 at a running
    pace is counting strides. Until it has seen enough it assumes the spec (steps).
    """

    RUNNING_SPEED_MPS = 1.8
    STRIDE_LIMIT = 115
    READINGS = 10

    def __init__(self, unit: CadenceUnit = CadenceUnit.AUTO):
        self.unit = unit
        self._seen: list[int] = []

    @property
    def factor(self) -> int:
        return 2 if self.unit is CadenceUnit.STRIDES else 1

    def steps_per_min(self, m: RscMeasurement) -> float:
        if self.unit is CadenceUnit.AUTO and m.speed_mps >= self.RUNNING_SPEED_MPS:
            if m.cadence_per_min > 0:
                self._seen.append(m.cadence_per_min)
            if len(self._seen) >= self.READINGS:
                strides = median(self._seen) < self.STRIDE_LIMIT
                self.unit = CadenceUnit.STRIDES if strides else CadenceUnit.STEPS
        return float(m.cadence_per_min * self.factor)
