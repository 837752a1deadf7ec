"""From a sensor's packets to samples: one decoder per connected sensor. Pure.

The live transport and the replay of a raw notification log both hand every packet
(notification or read) to the same `SensorDecoder`, so a replay gives exactly the samples
the live run had. A bad packet is counted and skipped, never fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from sensors.profiles import BATTERY_LEVEL, HR_MEASUREMENT, RSC_FEATURE, RSC_MEASUREMENT, Role
from sensors.protocols import DecodeError, battery, heart_rate, imu, pmd, rsc
from sensors.protocols.timebase import DeviceClock
from sensors.samples import (
    AccelBatch,
    BatteryLevel,
    FootpodSample,
    GyroBatch,
    HeartRateSample,
    Sample,
)

log = logging.getLogger(__name__)
MG_PER_G = 1000.0  # divided by, not multiplied by 1e-3: the same floats a CSV of g gives


@dataclass
class PmdStream:
    """What the start response said about the accelerometer stream."""

    rate_hz: float = 200.0
    factor: float = 1.0
    previous_ns: int | None = None


@dataclass
class SensorDecoder:
    name: str
    role: Role
    cadence: rsc.CadenceNormalizer = field(default_factory=rsc.CadenceNormalizer)
    bad_packets: int = 0
    last_problem: str | None = None
    features: rsc.RscFeature | None = None
    imu_config: imu.ImuConfig | None = None
    pmd_streams: dict[int, PmdStream] = field(default_factory=dict)  # by measurement type
    pmd_features: set[pmd.Measurement] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._pmd_responses = pmd.Responses()
        self._imu_clock = DeviceClock(imu.TICKS_PER_S, imu.WRAP_TICKS)
        self._pmd_clock = DeviceClock(pmd.TICKS_PER_S)
        self._last_t: dict[str, float] = {}  # by stream: times handed on never go back

    def reconnected(self) -> None:
        """A new connection: device clocks may restart, streams start afresh."""
        self._pmd_responses = pmd.Responses()
        self._imu_clock.reset()
        self._pmd_clock.reset()
        for stream in self.pmd_streams.values():
            stream.previous_ns = None
        self._last_t.clear()

    def packet(self, uuid: str, data: bytes, t: float, kind: str = "notify") -> list[Sample]:
        """The samples in one packet that arrived (or was read) at run time `t`; a write
        is what we asked of the sensor, such as the rate a stream was started at."""
        try:
            if kind == "write":
                self._wrote(uuid.lower(), bytes(data))
                return []
            return self._decode(uuid.lower(), bytes(data), t)
        except DecodeError as err:
            self.bad_packets += 1
            if self.last_problem is None:
                log.warning(
                    "%s sent a bad packet (%s); bad packets are counted and skipped", self.name, err
                )
            self.last_problem = str(err)
            return []

    def _decode(self, uuid: str, data: bytes, t: float) -> list[Sample]:
        if uuid == RSC_MEASUREMENT:
            m = rsc.decode_measurement(data)
            return [
                FootpodSample(
                    t,
                    m.speed_mps,
                    self.cadence.steps_per_min(m),
                    m.stride_length_m,
                    m.total_distance_m,
                )
            ]
        if uuid == RSC_FEATURE:
            self.features = rsc.decode_feature(data)
            return []
        if uuid == HR_MEASUREMENT:
            h = heart_rate.decode_measurement(data)
            return [HeartRateSample(t, float(h.bpm), h.rr_s)]
        if uuid == BATTERY_LEVEL:
            return [BatteryLevel(t, self.name, self.role.value, battery.decode_level(data))]
        if uuid == imu.CONFIG:
            self.imu_config = imu.decode_config(data)
            return []
        if uuid == imu.DATA:
            return self._imu(data, t)
        if uuid == pmd.CONTROL_POINT:
            self._pmd_control(data)
            return []
        if uuid == pmd.DATA:
            return self._pmd(data, t)
        return []

    def _imu(self, data: bytes, t: float) -> list[Sample]:
        if self.imu_config is None:
            raise DecodeError("IMU data", data, "came before the IMU config was read")
        frame = imu.decode_frame(data, self.imu_config)
        first = self._imu_clock.seconds(frame.first_us)
        times = first + np.arange(len(frame.accel_g)) / self.imu_config.rate_hz
        offset = self._imu_clock.place(float(times[-1]), t)
        return [self._batch(times + offset, frame.accel_g, 1.0 / self.imu_config.rate_hz)]

    def _stream(self, measurement: int) -> PmdStream:
        return self.pmd_streams.setdefault(measurement, PmdStream())

    def _wrote(self, uuid: str, data: bytes) -> None:
        if uuid == pmd.CONTROL_POINT and len(data) >= 2 and data[0] == pmd.Op.START:
            rate = pmd.decode_settings(data[2:], pmd.CONTROL).get(pmd.Setting.SAMPLE_RATE)
            if rate:
                self._stream(data[1]).rate_hz = float(rate[0])

    def _pmd_control(self, data: bytes) -> None:
        if data and data[0] == pmd.FEATURES:
            self.pmd_features = pmd.decode_features(data)
            return
        if data and data[0] == pmd.STOPPED:
            stopped = ", ".join(
                pmd.Measurement(k).name
                for k in pmd.decode_stopped(data)
                if k in pmd.Measurement._value2member_map_
            )
            log.info("%s stopped its %s stream by itself", self.name, stopped or "unknown")
            return
        response = self._pmd_responses.feed(data)
        if response is not None and response.op == pmd.Op.START and response.ok:
            factor = response.settings.get(pmd.Setting.FACTOR)
            if factor:
                self._stream(response.measurement).factor = float(factor[0])

    def _pmd(self, data: bytes, t: float) -> list[Sample]:
        stream = self._stream(data[0]) if data else PmdStream()
        frame = pmd.decode_frame(data, stream.factor)
        times_ns = pmd.sample_times_ns(frame, stream.previous_ns, stream.rate_hz)
        stream.previous_ns = frame.timestamp_ns
        device_s = self._pmd_clock.seconds(frame.timestamp_ns)
        offset = self._pmd_clock.place(device_s, t)
        times = (times_ns - frame.timestamp_ns) / 1e9 + device_s + offset
        step = 1.0 / stream.rate_hz
        if frame.measurement == pmd.Measurement.GYRO:
            times = self._onward("gyro", times, step)
            return [GyroBatch(self.name, self.role.placement, times, frame.samples)]
        return [self._batch(times, frame.samples / MG_PER_G, step)]

    def _onward(self, stream: str, times: np.ndarray, step: float) -> np.ndarray:
        # A packet that arrives faster than any before lowers the clock offset a little;
        # the samples already handed on keep their times, so start after the last of them.
        times = np.asarray(times, dtype=np.float64)
        last = self._last_t.get(stream, -np.inf)
        if times[0] <= last:
            times = times + (last + step - times[0])
        self._last_t[stream] = float(times[-1])
        return times

    def _batch(self, times: np.ndarray, xyz: np.ndarray, step: float) -> AccelBatch:
        times = self._onward("accel", times, step)
        return AccelBatch(self.name, self.role.placement, times, np.asarray(xyz, dtype=np.float64))
