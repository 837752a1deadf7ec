"""Live sensors: the runner's paired sensors over BLE, kept connected for the whole run.

`LiveSource` is a sensor source like a replay: it yields samples. Behind it one task per
paired sensor finds it, connects (bleak-retry-connector), subscribes to what its role needs,
and hands every packet to the sensor's decoder and to the raw notification log. When a
sensor drops, the task says so (a `SensorStatus`), reconnects with backoff, subscribes
again and says it is back; the gap in between is simply missing from the data.

The product connects only to the addresses the runner paired: another device offering the
same services is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from sensors.bluetooth.transport import Transport
from sensors.clock import Clock
from sensors.decoding import SensorDecoder
from sensors.profiles import (
    BATTERY_LEVEL,
    HR_MEASUREMENT,
    HR_SERVICE,
    RSC_FEATURE,
    RSC_MEASUREMENT,
    PairedSensor,
    Role,
    offered,
)
from sensors.protocols import DecodeError, imu, pmd, rsc
from sensors.recorded.rawlog import RawLogWriter
from sensors.samples import Link, Sample, SensorStatus

log = logging.getLogger(__name__)
BLE_ERRORS = (BleakError, TimeoutError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True)
class LiveSettings:
    acc_rate_hz: int = 200  # asked of a Polar strap; the nearest it offers is taken
    acc_range_g: int = 8
    cadence_unit: rsc.CadenceUnit = rsc.CadenceUnit.AUTO
    scan_s: float = 10.0  # how long to look for a sensor before trying again
    backoff_s: float = 1.0  # first wait after a failed attempt, doubling ...
    backoff_max_s: float = 5.0  # ... up to this: mid-run, a sensor back is wanted back soon


@dataclass(frozen=True)
class Found:
    address: str
    name: str | None
    rssi: int | None
    services: tuple[str, ...]

    @property
    def profiles(self) -> list[str]:
        return offered(list(self.services))


async def scan(
    transport: Transport, seconds: float, progress: Callable[[float, int], None] | None = None
) -> list[Found]:
    """Devices heard within `seconds`, strongest first; `progress(elapsed, found)`."""
    found: dict[str, Found] = {}

    def heard(device: BLEDevice, adv: Any) -> None:
        found[device.address] = Found(
            device.address, adv.local_name or device.name, adv.rssi, tuple(adv.service_uuids)
        )

    async with BleakScanner(detection_callback=heard, **transport.scanner()):
        steps = max(1, int(seconds * 10))
        for i in range(steps):
            await asyncio.sleep(seconds / steps)
            if progress is not None:
                progress((i + 1) * seconds / steps, len(found))
    return sorted(found.values(), key=lambda f: -(f.rssi if f.rssi is not None else -999))


async def inspect(
    transport: Transport, address: str, seconds: float = 10.0
) -> tuple[str | None, list[str]]:
    """Connect to `address` once: its name and the services it really has."""
    device = await BleakScanner.find_device_by_address(
        address, timeout=seconds, **transport.scanner()
    )
    if device is None:
        raise BleakError(f"no device {address} heard within {seconds:g} s: is it awake and near?")
    async with BleakClient(device, timeout=seconds, **transport.client()) as client:
        return device.name, [s.uuid for s in client.services]


def _set(event: asyncio.Event, _client: BleakClient) -> None:
    event.set()


class LiveSource:
    def __init__(
        self,
        sensors: list[PairedSensor],
        transport: Transport,
        clock: Clock,
        settings: LiveSettings | None = None,
        raw_log: RawLogWriter | None = None,
    ):
        self.sensors = sensors
        self.transport = transport
        self.clock = clock
        self.settings = settings or LiveSettings()
        self.raw_log = raw_log
        self.decoders = {
            s.address: SensorDecoder(
                s.label, s.role, rsc.CadenceNormalizer(self.settings.cadence_unit)
            )
            for s in sensors
        }
        self.connections = {s.address: 0 for s in sensors}
        self._queue: asyncio.Queue[Sample] = asyncio.Queue()

    async def stream(self) -> AsyncGenerator[Sample, None]:
        self.transport.activate()
        tasks = [asyncio.create_task(self._keep(s)) for s in self.sensors]
        try:
            while True:
                yield await self._queue.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _packet(self, sensor: PairedSensor, uuid: str, data: bytes, kind: str) -> None:
        t = self.clock.now()
        if self.raw_log is not None:
            try:
                self.raw_log.packet(t, sensor.describe(), uuid, data, kind)
            except OSError as err:  # a full disk costs the log, never the run
                log.error("cannot write the raw log any more (%s); the run goes on", err)
                self.raw_log = None
        for sample in self.decoders[sensor.address].packet(uuid, data, t, kind):
            self._queue.put_nowait(sample)

    def _status(self, sensor: PairedSensor, link: Link) -> None:
        t = self.clock.now()
        if self.raw_log is not None:
            with contextlib.suppress(OSError):
                self.raw_log.event(t, sensor.describe(), link.value)
        self._queue.put_nowait(SensorStatus(t, sensor.label, sensor.role.value, link))

    async def _keep(self, sensor: PairedSensor) -> None:
        """Connected, and connected again whenever it drops, until the run ends."""
        s = self.settings
        wait = s.backoff_s
        said: dict[str, str] = {}
        while True:
            lost = asyncio.Event()
            try:
                device = await BleakScanner.find_device_by_address(
                    sensor.address, timeout=s.scan_s, **self.transport.scanner()
                )
                if device is None:
                    raise BleakError(f"{sensor.label} not heard")
                client = await establish_connection(
                    BleakClient,
                    device,
                    sensor.label,
                    max_attempts=3,
                    disconnected_callback=partial(_set, lost),
                    **self.transport.client(),
                )
            except Exception as err:  # whatever went wrong, this sensor's task must go on
                problem = self.transport.explain(err)
                # Say each new problem once, until the sensor first connects; the same one
                # again, or any while a lost sensor is sought (the run has said "lost"),
                # only in the detailed log.
                again = problem == said.get(sensor.address) or self.connections[sensor.address]
                level = logging.INFO if again else logging.WARNING
                said[sensor.address] = problem
                log.log(level, "%s: %s; trying again in %.0f s", sensor.label, problem, wait)
                await asyncio.sleep(wait)
                wait = min(2 * wait, s.backoff_max_s)
                continue
            wait = s.backoff_s
            self.decoders[sensor.address].reconnected()
            self.connections[sensor.address] += 1
            self._status(
                sensor, Link.BACK if self.connections[sensor.address] > 1 else Link.CONNECTED
            )
            try:
                await self._subscribe(client, sensor)
                await lost.wait()
            except Exception as err:  # a refused start, a lost transport: connect again
                log.warning("%s: %s", sensor.label, err)
            finally:
                with contextlib.suppress(*BLE_ERRORS):
                    await client.disconnect()
            self._status(sensor, Link.LOST)

    async def _subscribe(self, client: BleakClient, sensor: PairedSensor) -> None:
        services = {service.uuid for service in client.services}
        chars = {c.uuid: c for service in client.services for c in service.characteristics}

        async def read(uuid: str) -> None:
            self._packet(sensor, uuid, bytes(await client.read_gatt_char(uuid)), "read")

        async def notify(uuid: str) -> None:
            await client.start_notify(
                uuid, lambda _c, data: self._packet(sensor, uuid, bytes(data), "notify")
            )

        if BATTERY_LEVEL in chars:
            await read(BATTERY_LEVEL)
            if "notify" in chars[BATTERY_LEVEL].properties:
                await notify(BATTERY_LEVEL)
        if sensor.role is Role.FOOTPOD:
            if RSC_MEASUREMENT not in chars:
                raise BleakError(f"{sensor.label} has no running speed and cadence service")
            if RSC_FEATURE in chars:
                await read(RSC_FEATURE)
            await notify(RSC_MEASUREMENT)
            return
        if HR_SERVICE in services and sensor.role in (Role.HR, Role.CHEST):
            await notify(HR_MEASUREMENT)
        if sensor.role is Role.HR:
            return
        if pmd.SERVICE in services:
            await self._start_pmd(client, sensor, read)
        elif imu.SERVICE in services:
            await read(imu.CONFIG)
            await notify(imu.DATA)
        else:
            speaks = ", ".join(offered(list(services))) or "nothing we speak"
            raise BleakError(f"{sensor.label} offers no motion stream (it offers {speaks})")

    async def _start_pmd(
        self, client: BleakClient, sensor: PairedSensor, read: Callable[[str], Any]
    ) -> None:
        """Ask a Polar sensor what it offers, then start its accelerometer."""
        answers: asyncio.Queue[pmd.ControlResponse] = asyncio.Queue()
        parts = pmd.Responses()

        def answered(_c: Any, data: bytearray) -> None:
            self._packet(sensor, pmd.CONTROL_POINT, bytes(data), "notify")
            with contextlib.suppress(DecodeError):
                if data and data[0] == pmd.RESPONSE and (whole := parts.feed(bytes(data))):
                    answers.put_nowait(whole)

        async def ask(request: bytes) -> pmd.ControlResponse:
            self._packet(sensor, pmd.CONTROL_POINT, request, "write")
            await client.write_gatt_char(pmd.CONTROL_POINT, request, response=True)
            reply = await asyncio.wait_for(answers.get(), timeout=5)
            if not reply.ok:
                raise BleakError(f"{sensor.label} refused {request.hex(' ')}: {reply.problem}")
            return reply

        await client.start_notify(pmd.CONTROL_POINT, answered)
        await read(pmd.CONTROL_POINT)
        features = self.decoders[sensor.address].pmd_features
        if pmd.Measurement.ACC not in features:
            raise BleakError(f"{sensor.label} offers no accelerometer stream")
        await client.start_notify(
            pmd.DATA, lambda _c, data: self._packet(sensor, pmd.DATA, bytes(data), "notify")
        )
        want = self.settings
        for kind in (pmd.Measurement.ACC, pmd.Measurement.GYRO):
            if kind not in features:
                continue  # a gyroscope only where the device has one
            offers = (await ask(pmd.settings_request(kind))).settings
            # Every offered setting gets a value: a start that leaves one out is refused.
            if kind == pmd.Measurement.ACC:
                settings = pmd.chosen(offers, want.acc_rate_hz, want.acc_range_g)
            else:  # running turns fast: the widest gyroscope range
                settings = pmd.chosen(offers, want.acc_rate_hz)
            await ask(pmd.start_request(kind, settings))
