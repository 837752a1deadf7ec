"""The plain IMU profile: our own GATT service, so a DIY board can stream motion to us.

Written out in full in docs/imu-profile.md. In short (all little-endian):

- service  78b7e843-b588-409c-80d8-85e57a920000
- config   78b7e843-b588-409c-80d8-85e57a920001 (read): uint8 version (1), uint8 flags
  (bit 0: gyroscope present), uint16 sample rate in Hz, float32 g per accelerometer LSB,
  float32 degrees/s per gyroscope LSB (0 without one): 12 bytes.
- data     78b7e843-b588-409c-80d8-85e57a920002 (notify): uint8 sequence number (+1 per
  frame, wrapping), uint32 timestamp of the frame's first sample in microseconds of the
  board's own clock (wrapping), uint8 sample count n, then n samples of int16 ax, ay, az
  (and gx, gy, gz when the gyroscope flag is set), in the board's own axes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from sensors.protocols.errors import DecodeError, need
from sensors.samples import FloatArray

SERVICE = "78b7e843-b588-409c-80d8-85e57a920000"
CONFIG = "78b7e843-b588-409c-80d8-85e57a920001"
DATA = "78b7e843-b588-409c-80d8-85e57a920002"
VERSION = 1
_CONFIG = struct.Struct("<BBHff")
_HEADER = struct.Struct("<BIB")
TICKS_PER_S = 1_000_000
WRAP_TICKS = 1 << 32


@dataclass(frozen=True, slots=True)
class ImuConfig:
    rate_hz: int
    accel_g_per_lsb: float
    gyro_dps_per_lsb: float = 0.0
    gyroscope: bool = False

    def encode(self) -> bytes:
        return _CONFIG.pack(
            VERSION, int(self.gyroscope), self.rate_hz, self.accel_g_per_lsb, self.gyro_dps_per_lsb
        )


@dataclass(frozen=True, slots=True)
class ImuFrame:
    sequence: int
    first_us: int  # device clock, wrapping at 2**32
    accel_g: FloatArray  # (n, 3)
    gyro_dps: FloatArray | None  # (n, 3) when the board has a gyroscope


def decode_config(data: bytes) -> ImuConfig:
    what = "IMU config"
    if len(data) != _CONFIG.size:
        raise DecodeError(what, data, f"expected {_CONFIG.size} bytes, got {len(data)}")
    version, flags, rate, accel, gyro = _CONFIG.unpack(data)
    if version != VERSION:
        raise DecodeError(what, data, f"profile version {version}, this reads version {VERSION}")
    if rate == 0 or not np.isfinite(accel) or accel <= 0:
        raise DecodeError(what, data, "the sample rate and accelerometer scale must be positive")
    gyroscope = bool(flags & 0x01)
    if gyroscope and (not np.isfinite(gyro) or gyro <= 0):
        raise DecodeError(what, data, "a gyroscope needs a positive scale")
    return ImuConfig(rate, accel, gyro if gyroscope else 0.0, gyroscope)


def decode_frame(data: bytes, config: ImuConfig) -> ImuFrame:
    what = "IMU data"
    need(what, data, _HEADER.size, "the frame header")
    sequence, first_us, count = _HEADER.unpack_from(data)
    channels = 6 if config.gyroscope else 3
    size = _HEADER.size + 2 * channels * count
    if count == 0 or len(data) != size:
        raise DecodeError(what, data, f"{count} samples need {size} bytes, got {len(data)}")
    raw = np.frombuffer(data, dtype="<i2", offset=_HEADER.size).reshape(count, channels)
    accel = raw[:, :3] * config.accel_g_per_lsb
    gyro = raw[:, 3:] * config.gyro_dps_per_lsb if config.gyroscope else None
    return ImuFrame(
        sequence,
        first_us,
        accel.astype(np.float64),
        None if gyro is None else gyro.astype(np.float64),
    )


def encode_frame(
    sequence: int, first_us: int, accel_lsb: FloatArray, gyro_lsb: FloatArray | None = None
) -> bytes:
    """A data frame from raw sensor counts (what a board sends; used by the simulator)."""
    samples = accel_lsb if gyro_lsb is None else np.hstack([accel_lsb, gyro_lsb])
    body = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return _HEADER.pack(sequence & 0xFF, first_us % WRAP_TICKS, len(samples)) + body
