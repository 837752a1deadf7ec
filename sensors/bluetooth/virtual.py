"""Virtual sensors: Bumble peripherals that play a recording the way real sensors send it.

- `VirtualFootpod`: Running Speed and Cadence, one measurement a second (optionally in
  strides per minute, as some footpods do), and a battery;
- `VirtualStrap`: a Polar-style chest strap: heart rate with RR intervals, and the
  accelerometer over Polar Measurement Data, started and stopped through its control point
  at the rate and range asked for (25 to 200 Hz, 2 to 8 g), in raw or delta-compressed
  frames;
- `VirtualImu`: a board speaking our plain IMU profile.

They run on a virtual controller (see `bumble_link`), so a real BLE stack connects to them:
bleak through the Bumble backend, in the same process or from another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bumble import data_types
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import HCI_ErrorCode
from scipy import signal

from sensors.profiles import (
    BATTERY_LEVEL,
    BATTERY_SERVICE,
    HR_MEASUREMENT,
    HR_SERVICE,
    RSC_FEATURE,
    RSC_MEASUREMENT,
    RSC_SERVICE,
)
from sensors.protocols import DecodeError, imu, pmd
from sensors.samples import FloatArray

log = logging.getLogger(__name__)
POLAR_EPOCH_S = 946_684_800  # 2000-01-01 on the Unix clock: where Polar counts from
NOTIFY = Characteristic.Properties.NOTIFY
INDICATE = Characteristic.Properties.INDICATE
READ = Characteristic.Properties.READ
WRITE = Characteristic.Properties.WRITE


_SIG_BASE = "-0000-1000-8000-00805f9b34fb"


def gatt_uuid(uuid: str) -> UUID:
    """A UUID as it goes over the air: Bluetooth SIG numbers in their 16-bit form."""
    if uuid.startswith("0000") and uuid.endswith(_SIG_BASE):
        return UUID.from_16_bits(int(uuid[4:8], 16))
    return UUID(uuid)


class Playback:
    """Where in the recording the virtual sensors are: one clock for all of them."""

    def __init__(self, speed: float = 1.0, start_s: float = 0.0, length_s: float | None = None):
        self.speed = speed
        self.start_s = start_s
        self.length_s = length_s
        self._t0 = time.monotonic()

    def position(self) -> float:
        return self.start_s + (time.monotonic() - self._t0) * self.speed

    async def until(self, t: float) -> None:
        delay = (t - self.position()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)

    def over(self, t: float) -> bool:
        return self.length_s is not None and t >= self.start_s + self.length_s


@dataclass(frozen=True)
class Motion:
    """An accelerometer recording: times (s) and values (g)."""

    t: FloatArray
    xyz_g: FloatArray

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.t)))

    def at_rate(self, rate_hz: int) -> tuple[float, np.ndarray]:
        """(start time, integer milli-g samples) at `rate_hz`, resampled if needed."""
        native = round(self.rate_hz)
        if rate_hz == native:
            values = self.xyz_g
        else:
            gcd = np.gcd(rate_hz, native)
            values = signal.resample_poly(self.xyz_g, rate_hz // gcd, native // gcd, axis=0)
        return float(self.t[0]), np.rint(values * 1000).astype(np.int64)


@dataclass(frozen=True)
class Script:
    """Values a sensor reports once a second: column name → one value per second."""

    t: FloatArray
    columns: dict[str, FloatArray]

    def at(self, t: float) -> dict[str, float]:
        i = int(np.clip(np.searchsorted(self.t, t, side="right") - 1, 0, len(self.t) - 1))
        return {k: float(v[i]) for k, v in self.columns.items()}


@dataclass
class VirtualSensor:
    device: Device
    name: str
    playback: Playback
    battery: int = 85
    connections: list[Connection] = field(default_factory=list)
    subscribers: dict[str, int] = field(default_factory=dict)  # characteristic → count

    def __post_init__(self) -> None:
        self.device.name = self.name
        self.battery_level: Characteristic[bytes] = Characteristic(
            gatt_uuid(BATTERY_LEVEL),
            READ | NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _conn: bytes([self.battery])),
        )
        self.device.on(Device.EVENT_CONNECTION, self._connected)
        self.device.on("characteristic_subscription", self._subscription)
        self._tasks: list[asyncio.Task[None]] = []

    # What each kind of sensor offers.
    def services(self) -> list[Service]:
        raise NotImplementedError

    def advertised(self) -> tuple[list[UUID], list[UUID]]:
        """(16-bit, 128-bit) service UUIDs to advertise."""
        raise NotImplementedError

    def loops(self) -> list[Callable[[], Any]]:
        """The coroutines that stream while the sensor is on."""
        return [self._drain_battery]

    async def start(self) -> None:
        self.device.add_services(
            [*self.services(), Service(gatt_uuid(BATTERY_SERVICE), [self.battery_level])]
        )
        await self.device.power_on()
        await self.come_back()
        self._tasks = [asyncio.create_task(loop()) for loop in self.loops()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.go_away()

    async def come_back(self) -> None:
        """Advertise (again): within reach and awake."""
        short, long = self.advertised()
        adv = AdvertisingData(
            [
                data_types.Flags(
                    AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                    | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
                ),
                data_types.CompleteLocalName(self.name),
                data_types.IncompleteListOf16BitServiceUUIDs([*short, gatt_uuid(BATTERY_SERVICE)]),
                *([data_types.IncompleteListOf128BitServiceUUIDs(long)] if long else []),
            ]
        )
        # The virtual controller answers scan requests with the same data, so everything
        # goes in the advertisement; fast advertising keeps scans and reconnects short.
        await self.device.start_advertising(
            advertising_data=bytes(adv),
            advertising_interval_min=20,
            advertising_interval_max=20,
            auto_restart=True,
        )

    async def go_away(self) -> None:
        """Out of reach: stop advertising and drop every link (powering off is not enough:
        the virtual controller would keep the link up)."""
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.disconnect(HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)

    def _connected(self, conn: Connection) -> None:
        self.connections.append(conn)

        def gone(reason: int) -> None:
            if conn in self.connections:
                self.connections.remove(conn)
            self.subscribers.clear()
            self.stream_stopped()

        conn.on(Connection.EVENT_DISCONNECTION, gone)

    def _subscription(
        self, conn: Connection, char: Characteristic[bytes], notify: bool, indicate: bool
    ) -> None:
        key = str(char.uuid).lower()
        self.subscribers[key] = self.subscribers.get(key, 0) + (1 if notify or indicate else -1)

    def stream_stopped(self) -> None:
        """The central went away: streams it started stop with it."""

    def subscribed(self, char: Characteristic[bytes]) -> bool:
        return self.subscribers.get(str(char.uuid).lower(), 0) > 0

    async def notify(self, char: Characteristic[bytes], value: bytes) -> None:
        if self.subscribed(char):
            with contextlib.suppress(Exception):  # the link may drop under us
                await self.device.notify_subscribers(char, value)

    async def _drain_battery(self) -> None:
        """One percent per ten minutes of playback, announced when it changes."""
        next_t = self.playback.position() + 600
        while True:
            await self.playback.until(next_t)
            next_t += 600
            self.battery = max(0, self.battery - 1)
            await self.notify(self.battery_level, bytes([self.battery]))


@dataclass
class VirtualFootpod(VirtualSensor):
    script: Script | None = None  # columns speed_mps, cadence_spm (steps), distance_m
    strides: bool = False  # report strides per minute, as some footpods do

    def services(self) -> list[Service]:
        self.measurement = Characteristic(
            gatt_uuid(RSC_MEASUREMENT), NOTIFY, Characteristic.READABLE, b""
        )
        # Supports stride length? No. Total distance and walking/running status: yes.
        feature = Characteristic(
            gatt_uuid(RSC_FEATURE), READ, Characteristic.READABLE, struct.pack("<H", 0b110)
        )
        return [Service(gatt_uuid(RSC_SERVICE), [self.measurement, feature])]

    def advertised(self) -> tuple[list[UUID], list[UUID]]:
        return [gatt_uuid(RSC_SERVICE)], []

    def loops(self) -> list[Callable[[], Any]]:
        return [*super().loops(), self._measure]

    async def _measure(self) -> None:
        assert self.script is not None
        t = np.ceil(self.playback.position())
        while not self.playback.over(t):
            await self.playback.until(t)
            v = self.script.at(t)
            cadence = v["cadence_spm"] / (2 if self.strides else 1)
            running = v["speed_mps"] >= 1.8
            flags = 0x02 | (0x04 if running else 0)
            value = struct.pack(
                "<BHBI",
                flags,
                round(v["speed_mps"] * 256),
                round(cadence),
                round(v["distance_m"] * 10),
            )
            await self.notify(self.measurement, value)
            t += 1.0


@dataclass
class VirtualStrap(VirtualSensor):
    """Heart rate, and the accelerometer streamed over Polar Measurement Data."""

    motion: Motion | None = None
    heart: Script | None = None  # column bpm
    gyro: Motion | None = None  # rotation in deg/s, for a strap with a gyroscope
    compressed: bool = False  # send delta-compressed frames (factor 1: milli-g)
    rates: tuple[int, ...] = (25, 50, 100, 200)
    ranges: tuple[int, ...] = (2, 4, 8)
    gyro_ranges: tuple[int, ...] = (250, 500, 1000, 2000)
    frame_samples: int = 36
    _streaming: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    requests: list[bytes] = field(default_factory=list)

    @property
    def measurements(self) -> set[pmd.Measurement]:
        offered = {pmd.Measurement.ACC}
        return offered | ({pmd.Measurement.GYRO} if self.gyro is not None else set())

    @staticmethod
    def gyro_factor(range_dps: int) -> float:
        return range_dps / 32768.0  # deg/s per count at that range

    def services(self) -> list[Service]:
        self.hr = Characteristic(gatt_uuid(HR_MEASUREMENT), NOTIFY, Characteristic.READABLE, b"")
        self.control: Characteristic[bytes] = Characteristic(
            gatt_uuid(pmd.CONTROL_POINT),
            READ | WRITE | INDICATE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(
                read=lambda _c: pmd.encode_features(self.measurements), write=self._request
            ),
        )
        self.data = Characteristic(gatt_uuid(pmd.DATA), NOTIFY, Characteristic.READABLE, b"")
        return [
            Service(gatt_uuid(HR_SERVICE), [self.hr]),
            Service(gatt_uuid(pmd.SERVICE), [self.control, self.data]),
        ]

    def advertised(self) -> tuple[list[UUID], list[UUID]]:
        return [gatt_uuid(HR_SERVICE)], [gatt_uuid(pmd.SERVICE)]

    def loops(self) -> list[Callable[[], Any]]:
        return [*super().loops(), self._beat]

    def _request(self, conn: Connection, value: bytes) -> None:
        self.requests.append(bytes(value))
        reply = self._answer(bytes(value))
        # Answer by indication, without holding up the write's own response.
        asyncio.get_running_loop().create_task(self._indicate(conn, reply))

    async def _indicate(self, conn: Connection, reply: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.device.indicate_subscriber(conn, self.control, reply)

    def _answer(self, req: bytes) -> bytes:
        if len(req) < 2:
            return pmd.encode_response(req[0] if req else 0, 0, status=4)
        op, kind = req[0], req[1]
        if kind not in self.measurements:
            return pmd.encode_response(op, kind, status=3)
        ranges = self.ranges if kind == pmd.Measurement.ACC else self.gyro_ranges
        if op == pmd.Op.GET_SETTINGS:
            return pmd.encode_response(
                op,
                kind,
                settings={
                    pmd.Setting.SAMPLE_RATE: self.rates,
                    pmd.Setting.RESOLUTION: (16,),
                    pmd.Setting.RANGE: ranges,
                },
            )
        if op == pmd.Op.STOP:
            self._stop(kind)
            return pmd.encode_response(op, kind)
        if op != pmd.Op.START:
            return pmd.encode_response(op, kind, status=1)
        try:
            asked = pmd.decode_settings(req[2:])
        except DecodeError:
            return pmd.encode_response(op, kind, status=5)
        rate = int(asked.get(pmd.Setting.SAMPLE_RATE, (0,))[0])
        range_ = int(asked.get(pmd.Setting.RANGE, (0,))[0])
        if rate not in self.rates:
            return pmd.encode_response(op, kind, status=8)
        if range_ not in ranges:
            return pmd.encode_response(op, kind, status=9)
        if kind in self._streaming:
            return pmd.encode_response(op, kind, status=6)
        loop = asyncio.get_running_loop()
        if kind == pmd.Measurement.GYRO:
            factor = self.gyro_factor(range_)
            self._streaming[kind] = loop.create_task(self._stream_gyro(rate, factor))
        else:
            factor = 1.0
            self._streaming[kind] = loop.create_task(self._stream(rate))
        return pmd.encode_response(op, kind, settings={pmd.Setting.FACTOR: (factor,)})

    def _stop(self, kind: int) -> None:
        task = self._streaming.pop(kind, None)
        if task is not None:
            task.cancel()

    def stream_stopped(self) -> None:
        for kind in list(self._streaming):
            self._stop(kind)

    async def _stream(self, rate: int) -> None:
        assert self.motion is not None
        start, mg = self.motion.at_rate(rate)
        await self._frames(pmd.Measurement.ACC, rate, start, mg, 0x81 if self.compressed else 0x01)

    async def _stream_gyro(self, rate: int, factor: float) -> None:
        assert self.gyro is not None
        start, milli = self.gyro.at_rate(rate)  # the values go up a thousandfold ...
        counts = np.rint(milli / 1000.0 / np.float32(factor)).astype(np.int64)  # ... and back
        await self._frames(pmd.Measurement.GYRO, rate, start, counts, 0x80)

    async def _frames(
        self, kind: int, rate: int, start: float, values: np.ndarray, frame_type: int
    ) -> None:
        """Frames of `frame_samples` samples, each sent when its last sample is due."""
        clock_ns = (time.time() - POLAR_EPOCH_S) * 1e9 - self.playback.position() * 1e9
        i = max(0, int(np.ceil((self.playback.position() - start) * rate)))
        n = self.frame_samples
        while i + n <= len(values) and not self.playback.over(start + (i + n) / rate):
            last = start + (i + n - 1) / rate
            await self.playback.until(last)
            stamp = int(clock_ns + last * 1e9)
            await self.notify(
                self.data, pmd.encode_frame(kind, stamp, values[i : i + n], frame_type)
            )
            i += n

    async def _beat(self) -> None:
        assert self.heart is not None
        t = np.ceil(self.playback.position())
        phase = 0.0
        while not self.playback.over(t):
            await self.playback.until(t)
            bpm = self.heart.at(t)["bpm"]
            # The beats that fell in this second, each an RR interval of 60/bpm.
            phase += bpm / 60.0
            beats, phase = int(phase), phase - int(phase)
            rr = b"".join(struct.pack("<H", round(60 / bpm * 1024)) for _ in range(beats))
            await self.notify(self.hr, bytes([0x16 if rr else 0x06, round(bpm)]) + rr)
            t += 1.0


@dataclass
class VirtualImu(VirtualSensor):
    """A DIY board on our plain IMU profile."""

    motion: Motion | None = None
    range_g: int = 8
    frame_samples: int = 20
    sequence: int = 0

    def services(self) -> list[Service]:
        assert self.motion is not None
        self.rate = round(self.motion.rate_hz)
        self.config = imu.ImuConfig(self.rate, self.range_g / 32768)
        config = Characteristic(
            gatt_uuid(imu.CONFIG), READ, Characteristic.READABLE, self.config.encode()
        )
        self.data = Characteristic(gatt_uuid(imu.DATA), NOTIFY, Characteristic.READABLE, b"")
        return [Service(gatt_uuid(imu.SERVICE), [config, self.data])]

    def advertised(self) -> tuple[list[UUID], list[UUID]]:
        return [], [gatt_uuid(imu.SERVICE)]

    def loops(self) -> list[Callable[[], Any]]:
        return [*super().loops(), self._stream]

    async def _stream(self) -> None:
        assert self.motion is not None
        counts = np.rint(self.motion.xyz_g / self.config.accel_g_per_lsb)
        start = float(self.motion.t[0])
        board_us = int(time.monotonic() * 1e6)
        i = max(0, int(np.ceil((self.playback.position() - start) * self.rate)))
        n = self.frame_samples
        while i + n <= len(counts) and not self.playback.over(start + (i + n) / self.rate):
            await self.playback.until(start + (i + n - 1) / self.rate)
            first_us = board_us + round((start + i / self.rate) * 1e6)
            frame = imu.encode_frame(self.sequence, first_us, counts[i : i + n])
            self.sequence += 1
            await self.notify(self.data, frame)
            i += n
