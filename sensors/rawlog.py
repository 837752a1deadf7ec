"""The raw notification log: every byte the sensors sent during a live run, kept.

A compact, append-only binary file. It starts with the magic line ``PCRAW1\\n``; then come
records of ``uint8 type, uint16 length, payload`` (little-endian), so a reader can skip
types it does not know and stops cleanly at a record cut short by a killed process:

- ``1`` device: ``uint8 device``, then UTF-8 JSON (address, name, role, placement);
- ``2`` characteristic: ``uint8 characteristic``, then its UUID as text;
- ``3`` notification, ``4`` read and ``6`` write: ``uint32 run milliseconds, uint8
  device, uint8 characteristic``, then the bytes as received (or, for a write, as sent:
  the settings a stream was started with are part of what the data means);
- ``5`` event: ``uint32 run milliseconds, uint8 device``, then UTF-8 text
  (``connected``, ``lost``, ``back``).

Devices and characteristics are declared once and then named by number, so a notification
costs 8 bytes more than its payload.
"""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sensors.clock import Clock
from sensors.decoding import SensorDecoder
from sensors.profiles import Role
from sensors.samples import Link, Sample, SensorStatus

MAGIC = b"PCRAW1\n"
DEVICE, CHARACTERISTIC, NOTIFICATION, READ, EVENT, WRITE = 1, 2, 3, 4, 5, 6
_KINDS = {NOTIFICATION: "notify", READ: "read", WRITE: "write"}
_CODES = {kind: code for code, kind in _KINDS.items()}
_HEAD = struct.Struct("<BH")
_TIMED = struct.Struct("<IBB")
_EVENT = struct.Struct("<IB")


class RawLogError(ValueError):
    """A file that is not a raw notification log."""


@dataclass(frozen=True, slots=True)
class Packet:
    """A notification, a read or a write, as it went over the air."""

    t: float
    device: dict[str, Any]
    uuid: str
    data: bytes
    kind: str  # "notify", "read" or "write"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    t: float
    device: dict[str, Any]
    what: str


class RawLogWriter:
    """Appends records to a log; each write goes straight to the file."""

    def __init__(self, stream: IO[bytes]):
        self._out = stream
        self.also: Callable[[bytes], None] | None = None  # sees every record (the history)
        self._devices: dict[str, int] = {}
        self._chars: dict[str, int] = {}
        if stream.tell() == 0:
            stream.write(MAGIC)

    @classmethod
    def create(cls, path: Path) -> RawLogWriter:
        """A new log at `path`, readable by this user only; never an existing file."""
        fd = path.open("xb", buffering=0)
        path.chmod(0o600)
        return cls(fd)

    def _record(self, kind: int, payload: bytes) -> None:
        record = _HEAD.pack(kind, len(payload)) + payload
        self._out.write(record)
        if self.also is not None:
            self.also(record)

    def _device(self, device: dict[str, Any]) -> int:
        key = device["address"]
        if key not in self._devices:
            self._devices[key] = n = len(self._devices)
            self._record(DEVICE, bytes([n]) + json.dumps(device, sort_keys=True).encode())
        return self._devices[key]

    def _char(self, uuid: str) -> int:
        if uuid not in self._chars:
            self._chars[uuid] = n = len(self._chars)
            self._record(CHARACTERISTIC, bytes([n]) + uuid.encode())
        return self._chars[uuid]

    def packet(
        self, t: float, device: dict[str, Any], uuid: str, data: bytes, kind: str = "notify"
    ) -> None:
        head = _TIMED.pack(round(t * 1000), self._device(device), self._char(uuid))
        self._record(_CODES[kind], head + bytes(data))

    def event(self, t: float, device: dict[str, Any], what: str) -> None:
        self._record(EVENT, _EVENT.pack(round(t * 1000), self._device(device)) + what.encode())

    def close(self) -> None:
        self._out.close()


def read_log(path: Path) -> Iterator[Packet | DeviceEvent]:
    """Every packet and event in the log, in the order written."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise RawLogError(f"{path}: not a raw notification log")
    devices: dict[int, dict[str, Any]] = {}
    chars: dict[int, str] = {}
    at = len(MAGIC)
    while at + _HEAD.size <= len(data):
        kind, size = _HEAD.unpack_from(data, at)
        payload = data[at + _HEAD.size : at + _HEAD.size + size]
        if len(payload) < size:
            return  # cut short by a killed process: everything before it stands
        at += _HEAD.size + size
        try:
            if kind == DEVICE:
                devices[payload[0]] = json.loads(payload[1:])
            elif kind == CHARACTERISTIC:
                chars[payload[0]] = payload[1:].decode()
            elif kind in _KINDS:
                ms, dev, char = _TIMED.unpack_from(payload)
                yield Packet(
                    ms / 1000, devices[dev], chars[char], payload[_TIMED.size :], _KINDS[kind]
                )
            elif kind == EVENT:
                ms, dev = _EVENT.unpack_from(payload)
                yield DeviceEvent(ms / 1000, devices[dev], payload[_EVENT.size :].decode())
        except (KeyError, IndexError, struct.error, ValueError) as err:
            raise RawLogError(f"{path}: damaged record at byte {at}: {err}") from None


def is_raw_log(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class RawLogSource:
    """Replays a raw log through the same decoders as the live run: the same samples, and
    the same sensors lost and back, at the pace of a clock."""

    def __init__(self, path: Path, clock: Clock):
        self.path = path
        self.clock = clock
        self.records = list(read_log(path))
        self.devices = {r.device["address"]: r.device for r in self.records}

    def trunk_devices(self) -> list[dict[str, Any]]:
        return [d for d in self.devices.values() if d.get("placement") in ("chest", "pelvis")]

    def timed(self) -> Iterator[tuple[float, Sample]]:
        """Every sample the log decodes to, with the time its packet arrived."""
        decoders: dict[str, SensorDecoder] = {}
        for record in self.records:
            d = record.device
            decoder = decoders.get(d["address"])
            if decoder is None:
                decoder = decoders[d["address"]] = SensorDecoder(d["name"], Role(d["role"]))
            if isinstance(record, DeviceEvent):
                link = Link(record.what)
                if link is not Link.LOST:
                    decoder.reconnected()  # as the live run did on every connection
                yield record.t, SensorStatus(record.t, d["name"], d["role"], link)
                continue
            for sample in decoder.packet(record.uuid, record.data, record.t, record.kind):
                yield record.t, sample

    async def stream(self) -> AsyncIterator[Sample]:
        for t, sample in self.timed():
            await self.clock.sleep_until(t)
            yield sample
