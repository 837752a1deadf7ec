"""Polar Measurement Data (PMD): the accelerometer (and gyroscope) stream of Polar sensors.

Service FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8 with a control point (…5C81: read, write,
indicate) and a data characteristic (…5C82: notify). A client reads the control point for the
measurement types the device offers, writes requests (get settings, start with settings,
stop) and gets responses by indication; samples arrive as data frames.

Data frame: uint8 measurement type, uint64 timestamp in nanoseconds (Polar's clock, counted
from 2000-01-01) of the frame's LAST sample, uint8 frame type (bit 7: delta-compressed),
then samples. Raw accelerometer frames carry int8 (type 0), int16 (type 1) or int24 (type 2)
x, y, z in milli-g. A compressed frame carries one 16-bit reference sample, then blocks of
[uint8 bit width][uint8 count][count × 3 signed deltas, bit-packed, least significant bit
first], each sample the previous one plus its deltas. Scaled by the stream's factor (from
the start response), compressed type 1 gives milli-g and compressed type 0 gives g (Polar's
SDK multiplies that one by 1000); a gyroscope sends compressed type 0 only, in deg/s.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from sensors.protocols.errors import DecodeError, need
from sensors.samples import FloatArray

SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
TICKS_PER_S = 1_000_000_000


class Measurement(IntEnum):
    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMPERATURE = 7
    SDK_MODE = 9  # started and stopped like a stream: it opens the other rates


class Op(IntEnum):
    GET_SETTINGS = 0x01
    START = 0x02
    STOP = 0x03


class Setting(IntEnum):
    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


# Bytes per value of each setting in requests and responses.
_SETTING_SIZE = {
    Setting.SAMPLE_RATE: 2,
    Setting.RESOLUTION: 2,
    Setting.RANGE: 2,
    Setting.RANGE_MILLIUNIT: 4,
    Setting.CHANNELS: 1,
    Setting.FACTOR: 4,
}

STATUS = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in that state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
    14: "disk full",
}
INVALID_MTU = 10
RESPONSE = 0xF0
FEATURES = 0x0F
STOPPED = 0x01  # a notification: the device stopped these streams by itself
CONTROL = "PMD control point"
FRAME = "PMD data frame"


def _settings_bytes(settings: dict[Setting, int]) -> bytes:
    out = b""
    for kind, value in settings.items():
        size = _SETTING_SIZE[kind]
        out += bytes([kind, 1]) + int(value).to_bytes(size, "little")
    return out


def start_request(kind: int, settings: dict[Setting, int]) -> bytes:
    """Start a stream: ACC at 200 Hz, 16 bits, ±8 g is 02 02 00 01 c8 00 01 01 10 00 02 01 08
    00."""
    return bytes([Op.START, kind]) + _settings_bytes(settings)


def chosen(
    offers: Mapping[Setting, tuple[float, ...]], rate_hz: float, range_: float | None = None
) -> dict[Setting, int]:
    """A value for every setting the device offers (it refuses a start that leaves one
    out): the rate nearest `rate_hz`, the range nearest `range_` (the widest without
    one), the finest resolution, every channel, and the first of anything else. The factor
    is the device's answer, never asked for."""
    out: dict[Setting, int] = {}
    for kind, values in offers.items():
        options = [int(v) for v in values]
        if kind is Setting.FACTOR or not options:
            continue
        if kind is Setting.SAMPLE_RATE:
            out[kind] = min(options, key=lambda v: (abs(v - rate_hz), -v))
        elif kind is Setting.RANGE and range_ is not None:
            out[kind] = min(options, key=lambda v: (abs(v - range_), -v))
        elif kind in (Setting.RANGE, Setting.RESOLUTION, Setting.CHANNELS):
            out[kind] = max(options)
        else:
            out[kind] = options[0]
    return out


def stop_request(kind: Measurement) -> bytes:
    return bytes([Op.STOP, kind])


def settings_request(kind: Measurement) -> bytes:
    return bytes([Op.GET_SETTINGS, kind])


def decode_settings(data: bytes, what: str = CONTROL) -> dict[Setting, tuple[float, ...]]:
    """Settings as type, count, values: what a device offers, or what it started with."""
    out: dict[Setting, tuple[float, ...]] = {}
    at = 0
    while at < len(data):
        need(what, data, at + 2, "a setting's type and count")
        code, count = data[at], data[at + 1]
        at += 2
        try:
            kind = Setting(code)
        except ValueError:
            raise DecodeError(what, data, f"unknown setting type {code}") from None
        size = _SETTING_SIZE[kind]
        need(what, data, at + size * count, f"{count} values of {kind.name.lower()}")
        if kind is Setting.FACTOR:
            values: tuple[float, ...] = struct.unpack_from(f"<{count}f", data, at)
        else:
            values = tuple(
                int.from_bytes(data[at + i * size : at + (i + 1) * size], "little")
                for i in range(count)
            )
        out[kind] = values
        at += size * count
    return out


@dataclass(frozen=True, slots=True)
class ControlResponse:
    op: int
    measurement: int
    status: int
    more: bool = False
    settings: dict[Setting, tuple[float, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def problem(self) -> str:
        return STATUS.get(self.status, f"error {self.status}")


def decode_response(data: bytes, settings: bool = True) -> ControlResponse:
    """A response; its settings too unless `settings` is false (a part of a longer one)."""
    need(CONTROL, data, 4, "a response")
    if data[0] != RESPONSE:
        raise DecodeError(CONTROL, data, f"not a response (first byte {data[0]:#04x})")
    op, kind, status = data[1], data[2], data[3]
    more = bool(data[4]) if len(data) > 4 else False
    listed = settings and status == 0 and len(data) > 5
    return ControlResponse(
        op, kind, status, more, decode_settings(bytes(data[5:])) if listed else {}
    )


class Responses:
    """Joins a response the device sent in parts, each with the same five-byte head and
    the "more" flag set while parts follow: a settings list longer than a small MTU."""

    def __init__(self) -> None:
        self._joined: bytes | None = None

    def feed(self, data: bytes) -> ControlResponse | None:
        """The whole response once its last part is in, else None."""
        part = decode_response(data, settings=False)
        joined = bytes(data) if self._joined is None else self._joined + bytes(data[5:])
        if part.more:
            self._joined = joined
            return None
        self._joined = None
        whole = decode_response(joined)
        return ControlResponse(whole.op, whole.measurement, whole.status, False, whole.settings)


def decode_features(data: bytes) -> set[Measurement]:
    """The measurement types a device offers (reading the control point): bit n of the
    bytes after 0x0F is measurement type n."""
    need(CONTROL, data, 2, "the feature bits")
    if data[0] != FEATURES:
        raise DecodeError(CONTROL, data, f"not a feature read (first byte {data[0]:#04x})")
    bits = int.from_bytes(data[1:3], "little")
    return {m for m in Measurement if bits & (1 << m)}


def decode_stopped(data: bytes) -> list[int]:
    """The measurement types a device says it stopped by itself (01, then one byte each)."""
    need(CONTROL, data, 2, "the stopped measurement")
    if data[0] != STOPPED:
        raise DecodeError(CONTROL, data, f"not a stop notice (first byte {data[0]:#04x})")
    return list(data[1:])


@dataclass(frozen=True, slots=True)
class DataFrame:
    measurement: int
    timestamp_ns: int  # of the last sample
    frame_type: int
    compressed: bool
    samples: FloatArray  # (n, 3), milli-g for ACC, deg/s for GYRO


_RAW_WIDTH = {0: 1, 1: 2, 2: 3}  # bytes per value of raw frame types 0, 1, 2


def _signed(values: np.ndarray, bits: int) -> np.ndarray:
    return np.where(values >= 1 << (bits - 1), values - (1 << bits), values)


def _raw_samples(payload: bytes, width: int, data: bytes) -> np.ndarray:
    if not payload or len(payload) % (3 * width):
        raise DecodeError(FRAME, data, f"{len(payload)} bytes are not whole samples of {width}")
    raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, width).astype(np.int64)
    values = raw @ (1 << (8 * np.arange(width, dtype=np.int64)))
    return np.asarray(_signed(values, 8 * width)).reshape(-1, 3)


def _delta_samples(payload: bytes, width: int, data: bytes) -> np.ndarray:
    need(FRAME, payload, 3 * width, "the reference sample")
    ref = _raw_samples(payload[: 3 * width], width, data)[0]
    samples = [ref]
    at = 3 * width
    while at < len(payload):
        need(FRAME, payload[at:], 2, "a delta block header")
        bits, count = payload[at], payload[at + 1]
        at += 2
        if bits == 0 or bits > 32 or count == 0:
            raise DecodeError(FRAME, data, f"delta block of {count} samples at {bits} bits")
        nbytes = (bits * 3 * count + 7) // 8
        block = payload[at : at + nbytes]
        if len(block) < nbytes:
            raise DecodeError(FRAME, data, f"delta block needs {nbytes} bytes, has {len(block)}")
        at += nbytes
        stream = np.unpackbits(np.frombuffer(block, dtype=np.uint8), bitorder="little")
        fields = stream[: bits * 3 * count].reshape(-1, bits).astype(np.int64)
        deltas = _signed(fields @ (1 << np.arange(bits, dtype=np.int64)), bits).reshape(-1, 3)
        samples.extend(samples[-1] + np.cumsum(deltas, axis=0))
    return np.vstack(samples)


def decode_frame(data: bytes, factor: float = 1.0) -> DataFrame:
    """A data frame's samples; `factor` scales compressed frames (from the start response)."""
    need(FRAME, data, 10, "the frame header")
    kind = data[0]
    (timestamp,) = struct.unpack_from("<Q", data, 1)
    frame_type = data[9]
    compressed = bool(frame_type & 0x80)
    base = frame_type & 0x7F
    readable = (kind == Measurement.ACC and base in ((0, 1) if compressed else _RAW_WIDTH)) or (
        kind == Measurement.GYRO and compressed and base == 0
    )
    if not readable:
        raise DecodeError(
            FRAME,
            data,
            f"measurement {kind} frame type {frame_type:#04x} is not a motion frame this reads",
        )
    payload = bytes(data[10:])
    if compressed:
        samples = _delta_samples(payload, 2, data).astype(np.float64)
        if kind == Measurement.ACC and base == 0:
            samples *= factor * 1000.0  # this frame type arrives in g
        elif factor != 1.0:
            samples *= factor
    else:
        samples = _raw_samples(payload, _RAW_WIDTH[base], data).astype(np.float64)
    return DataFrame(kind, timestamp, frame_type, compressed, samples)


def sample_times_ns(frame: DataFrame, previous_ns: int | None, rate_hz: float) -> np.ndarray:
    """Each sample's time: spread evenly since the previous frame's last sample, or by the
    sample rate for the first frame (the timestamp is the last sample's)."""
    n = len(frame.samples)
    if previous_ns is not None and 0 < frame.timestamp_ns - previous_ns < 2 * n * 1e9 / rate_hz:
        step = (frame.timestamp_ns - previous_ns) / n
    else:
        step = 1e9 / rate_hz
    return frame.timestamp_ns - step * np.arange(n - 1, -1, -1, dtype=np.float64)


# Encoders: what a device sends. The virtual strap uses them; the tests round-trip them.


def encode_settings(settings: dict[Setting, tuple[float, ...]]) -> bytes:
    out = b""
    for kind, values in settings.items():
        out += bytes([kind, len(values)])
        if kind is Setting.FACTOR:
            out += struct.pack(f"<{len(values)}f", *values)
        else:
            size = _SETTING_SIZE[kind]
            out += b"".join(int(v).to_bytes(size, "little") for v in values)
    return out


def encode_response(
    op: int,
    measurement: int,
    status: int = 0,
    more: bool = False,
    settings: dict[Setting, tuple[float, ...]] | None = None,
) -> bytes:
    return bytes([RESPONSE, op, measurement, status, int(more)]) + encode_settings(settings or {})


def encode_features(measurements: set[Measurement]) -> bytes:
    bits = sum(1 << m for m in measurements)
    return bytes([FEATURES, bits & 0xFF, bits >> 8])


def _pack_signed(values: np.ndarray, width: int) -> bytes:
    unsigned = np.asarray(values, dtype=np.int64) & ((1 << (8 * width)) - 1)
    return b"".join(int(v).to_bytes(width, "little") for v in unsigned.ravel())


def encode_frame(
    measurement: int, timestamp_ns: int, samples: np.ndarray, frame_type: int = 1
) -> bytes:
    """A data frame of integer samples (n, 3): raw frame types 0-2, or delta-compressed
    (bit 7 set) with 16-bit reference and one block at the narrowest bit width that fits."""
    head = bytes([measurement]) + struct.pack("<Q", timestamp_ns) + bytes([frame_type])
    values = np.asarray(samples, dtype=np.int64).reshape(-1, 3)
    if not frame_type & 0x80:
        return head + _pack_signed(values, _RAW_WIDTH[frame_type & 0x7F])
    body = _pack_signed(values[0], 2)
    deltas = np.diff(values, axis=0)
    for start in range(0, len(deltas), 255):
        block = deltas[start : start + 255]
        bits = max(2, int(np.max(np.abs(block))).bit_length() + 1)
        fields = (block.ravel() & ((1 << bits) - 1))[:, None] >> np.arange(bits) & 1
        packed = np.packbits(fields.ravel().astype(np.uint8), bitorder="little").tobytes()
        body += bytes([bits, len(block)]) + packed
    return head + body
