"""The raw notification log: every byte the sensors sent during a live run, kept.

A compact, append-only binary file. It starts with the magic line ``PCRAW1\\n``; then come
records of ``uint8 type, uint16 length, payload`` (little-endian):

- ``1`` device: ``uint8 device``, then UTF-8 JSON (address, name, role, placement);
- ``2`` characteristic: ``uint8 characteristic``, then its UUID as text;
- ``3`` notification, ``4`` read and ``6`` write: ``uint32 run milliseconds, uint8
  device, uint8 characteristic``, then the bytes as received (or, for a write, as sent:
  the settings a stream was started with are part of what the data means);
- ``5`` event: ``uint32 run milliseconds, uint8 device``, then UTF-8 text
  (``connected``, ``lost``, ``back``).

Devices and characteristics are declared once, numbered in order, and then named by
number, so a notification costs 8 bytes more than its payload.

A reader reads every record up to the end, or up to where the file went wrong, and says
which: a last record cut short by the end of the file is what a process killed while
writing leaves, and everything before it stands; anything else is damage (a type this
format does not have, a length beyond what its type can hold or after which the records do
not line up, a device or characteristic never declared, a time going back), reported with
its byte offset. The format has no checksum: a byte changed inside a packet's data is read
as the sensor's (its decoder counts and skips a packet that makes no sense).
"""

from __future__ import annotations

import json
import struct
import uuid
from collections import deque
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


# The longest payload each record type can have: a BLE attribute value is at most 512
# bytes, a device's description (its JSON) and a characteristic's UUID far less. A length
# beyond these is damage, never a record cut short.
MAX_PAYLOAD = {
    DEVICE: 4096,
    CHARACTERISTIC: 64,
    NOTIFICATION: _TIMED.size + 512,
    READ: _TIMED.size + 512,
    WRITE: _TIMED.size + 512,
    EVENT: _EVENT.size + 32,
}
_MIN_PAYLOAD = {DEVICE: 3, CHARACTERISTIC: 2, EVENT: _EVENT.size + 4} | {
    k: _TIMED.size for k in _KINDS
}
_NAMES = {DEVICE: "device", CHARACTERISTIC: "characteristic", EVENT: "event"} | {
    k: name for k, name in zip(_KINDS, ("notification", "read", "write"), strict=True)
}
_LINKS = tuple(link.value for link in Link)
_UUID_TEXT = frozenset(b"0123456789abcdefABCDEF-{}")


@dataclass(frozen=True)
class LogReading:
    """What a raw log holds, as far as it can be read, and why reading stopped before its
    end, if it did: a last record cut short (a process killed mid-write: normal) or damage."""

    path: Path
    records: tuple[Packet | DeviceEvent, ...]
    size: int  # of the file, in bytes
    end: int  # where the records read end: `size`, or where the cut or the damage is
    problem: str | None = None  # what is wrong at `end`
    cut_short: bool = False  # the problem is a last record cut short, not damage

    @property
    def damaged(self) -> bool:
        return self.problem is not None and not self.cut_short

    @property
    def seconds(self) -> float:
        """The run time the records read reach."""
        return max((r.t for r in self.records), default=0.0)

    def _read(self) -> str:
        n = len(self.records)
        return f"{n} record{'' if n == 1 else 's'}, {self.seconds:.0f} s of the run"

    def note(self) -> str | None:
        """One line on where reading stopped short of the end, and what was read; None
        when the whole file was read."""
        name = self.path.name
        if self.problem is None:
            return None
        if self.cut_short:
            return (
                f"{name}: the last record is cut short at byte {self.end} of {self.size} "
                f"({self.problem}), as a process killed while writing leaves it; everything "
                f"before it was read ({self._read()})"
            )
        return (
            f"{name}: damaged at byte {self.end} of {self.size} ({self.problem}); "
            f"read before it: {self._read()}"
        )


class _Damage(Exception):
    def __init__(self, at: int, why: str):
        self.at, self.why = at, why


class _Parser:
    """Reads records one by one, checking each against what came before it: declared in
    order, naming declared devices and characteristics, its time never going back."""

    def __init__(self, data: bytes):
        self.data = data
        self.devices: dict[int, dict[str, Any]] = {}
        self.chars: dict[int, str] = {}
        self.times: deque[tuple[int, int]] = deque(maxlen=2)  # (offset, ms): the last two timed
        self.read: list[tuple[int, Packet | DeviceEvent | None]] = []  # (offset, record)

    def copy(self) -> _Parser:
        other = _Parser(self.data)
        other.devices, other.chars = dict(self.devices), dict(self.chars)
        other.times, other.read = deque(self.times, maxlen=2), []
        return other

    def head(self, at: int) -> tuple[int, int]:
        """The type and length of the record at `at`, checked; its payload may run on
        past the end of the file."""
        kind = self.data[at]
        if kind not in MAX_PAYLOAD:
            raise _Damage(at, f"unknown record type {kind}")
        if at + _HEAD.size > len(self.data):
            return kind, -1
        _, size = _HEAD.unpack_from(self.data, at)
        if size > MAX_PAYLOAD[kind] or size < _MIN_PAYLOAD[kind]:
            raise _Damage(
                at,
                f"a {_NAMES[kind]} record said to be {size} bytes long; one is "
                f"{_MIN_PAYLOAD[kind]} to {MAX_PAYLOAD[kind]}",
            )
        return kind, size

    def record(self, at: int, kind: int, payload: bytes) -> None:
        """Check the whole record at `at` and take it in."""
        record: Packet | DeviceEvent | None = None
        if kind == DEVICE:
            self._declared(at, "device", payload[0], self.devices)
            self.devices[payload[0]] = _device(at, payload[1:])
        elif kind == CHARACTERISTIC:
            self._declared(at, "characteristic", payload[0], self.chars)
            text = payload[1:]
            if not set(text) <= _UUID_TEXT:
                raise _Damage(at, "a characteristic whose UUID is not one")
            try:
                uuid.UUID(text.decode())
                self.chars[payload[0]] = text.decode()  # as written: replayed as it was
            except ValueError:
                raise _Damage(at, "a characteristic whose UUID is not one") from None
        elif kind == EVENT:
            ms, dev = _EVENT.unpack_from(payload)
            what = payload[_EVENT.size :].decode("ascii", "replace")
            if what not in _LINKS:
                raise _Damage(at, f"an event that is not one of {', '.join(_LINKS)}")
            record = DeviceEvent(ms / 1000, self._device(at, dev), what)
            self._time(at, ms)
        else:
            ms, dev, char = _TIMED.unpack_from(payload)
            device = self._device(at, dev)
            if char not in self.chars:
                raise _Damage(at, f"a {_NAMES[kind]} of characteristic {char}, never declared")
            self._time(at, ms)
            data = payload[_TIMED.size :]
            record = Packet(ms / 1000, device, self.chars[char], data, _KINDS[kind])
        self.read.append((at, record))

    def prefix(self, at: int, kind: int, size: int, part: bytes) -> None:
        """Check what there is of a record cut short by the end of the file: the start of
        a record that could have been whole."""
        if kind in (DEVICE, CHARACTERISTIC):
            table: dict[int, Any] = self.devices if kind == DEVICE else self.chars
            if part:
                self._declared(at, _NAMES[kind], part[0], table)
            if kind == DEVICE and part[1:2] not in (b"", b"{"):
                raise _Damage(at, "a device record whose description cannot be read")
            if kind == CHARACTERISTIC and not set(part[1:]) <= _UUID_TEXT:
                raise _Damage(at, "a characteristic whose UUID is not one")
            return
        if len(part) >= 4:
            self._time(at, int.from_bytes(part[:4], "little"), keep=False)
        if len(part) >= 5:
            self._device(at, part[4])
        if kind == EVENT:
            text = part[_EVENT.size :]
            if not any(
                link.encode().startswith(text) and size in (-1, _EVENT.size + len(link))
                for link in _LINKS
            ):
                raise _Damage(at, f"an event that is not one of {', '.join(_LINKS)}")
        elif len(part) >= 6 and part[5] not in self.chars:
            raise _Damage(at, f"a {_NAMES[kind]} of characteristic {part[5]}, never declared")

    def _declared(self, at: int, what: str, n: int, table: dict[int, Any]) -> None:
        if n != len(table):
            raise _Damage(at, f"{what} {n} declared where {what} {len(table)} was next")

    def _device(self, at: int, n: int) -> dict[str, Any]:
        if n not in self.devices:
            raise _Damage(at, f"a record of device {n}, never declared")
        return self.devices[n]

    def _time(self, at: int, ms: int, keep: bool = True) -> None:
        """Run time never goes back in a log. When it does, the record before may be the
        one that is wrong, its time jumping ahead of both its neighbours'."""
        if self.times and ms < self.times[-1][1]:
            before, last = self.times[-1]
            if len(self.times) >= 2 and self.times[-2][1] <= ms:
                raise _Damage(
                    before,
                    f"its time jumps ahead to {last / 1000:.3f} s, between records at "
                    f"{self.times[-2][1] / 1000:.3f} s and {ms / 1000:.3f} s",
                )
            raise _Damage(
                at, f"its time, {ms / 1000:.3f} s, is before the last, {last / 1000:.3f} s"
            )
        if keep:
            self.times.append((at, ms))


def _device(at: int, text: bytes) -> dict[str, Any]:
    try:
        device = json.loads(text)
        if not (
            isinstance(device, dict)
            and isinstance(device.get("address"), str)
            and isinstance(device.get("name"), str)
        ):
            raise ValueError("not a device")
        Role(str(device.get("role")))
    except ValueError:
        raise _Damage(at, "a device record whose description cannot be read") from None
    return device


def _whole_records_from(parser: _Parser, at: int) -> bool:
    """Whether whole records follow from `at`: two or more, or one ending the file. Where
    a record's length is wrong, the records after it still line up at its true end."""
    data, count = parser.data, 0
    try:
        while at < len(data):
            kind, size = parser.head(at)
            if size < 0 or at + _HEAD.size + size > len(data):
                return False
            payload = data[at + _HEAD.size : at + _HEAD.size + size]
            parser.record(at, kind, payload)
            at += _HEAD.size + size
            count += 1
            if count >= 2:
                return True
    except (_Damage, IndexError, struct.error, UnicodeDecodeError):
        return False
    return count >= 1


def _realigned(parser: _Parser, at: int, kind: int, size: int) -> int | None:
    """Where whole records would follow if the record at `at` were shorter than it says;
    None when they never do."""
    start = at + _HEAD.size
    for length in range(_MIN_PAYLOAD[kind], min(size, len(parser.data) - start)):
        trial = parser.copy()
        try:
            trial.record(at, kind, parser.data[start : start + length])
        except (_Damage, IndexError, struct.error, UnicodeDecodeError):
            continue
        if _whole_records_from(trial, start + length):
            return start + length
    return None


def _parse(data: bytes, stop: int | None = None) -> tuple[_Parser, int, str | None, bool]:
    """The records of `data` up to `stop` (else its end): the parser, where reading
    stopped, why (None: it did not), and whether that is a last record cut short."""
    parser = _Parser(data)
    at, stop = len(MAGIC), len(data) if stop is None else stop
    try:
        while at < stop:
            kind, size = parser.head(at)
            end = at + _HEAD.size + size
            if size >= 0 and end <= len(data):
                try:
                    parser.record(at, kind, data[at + _HEAD.size : end])
                except (IndexError, struct.error, UnicodeDecodeError):
                    raise _Damage(at, f"a {_NAMES[kind]} record that cannot be read") from None
                at = end
                continue
            # The end of the file comes inside this record: a process killed while writing
            # it, or a length gone wrong, in which case whole records follow inside it.
            parser.prefix(at, kind, size, data[at + _HEAD.size :] if size >= 0 else b"")
            if size >= 0 and (inside := _realigned(parser, at, kind, size)) is not None:
                raise _Damage(
                    at,
                    f"its length, {size} bytes, runs past the end of the file, yet whole "
                    f"records follow from byte {inside}",
                )
            have = len(data) - at
            whole = f"of its {_HEAD.size + size}" if size >= 0 else "of its head"
            return parser, at, f"{have} byte{'' if have == 1 else 's'} {whole}", True
    except _Damage as damage:
        return parser, damage.at, damage.why, False
    return parser, at, None, False


def read_log(path: Path) -> LogReading:
    """The records of the log at `path` as far as they can be read, and why reading
    stopped short of its end: a last record cut short, or the first damage."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise RawLogError(f"{path}: not a raw notification log")
    parser, at, problem, cut_short = _parse(data)
    before = max((p for p, _ in parser.read if p < at), default=None)
    if problem is not None and not cut_short and before is not None:
        # Damage right after a record may be that record's length gone wrong: then whole
        # records line up inside it, and the damage is there.
        kind, size = _HEAD.unpack_from(data, before)
        if before + _HEAD.size + size == at:
            inside = _realigned(_parse(data, stop=before)[0], before, kind, size)
            if inside is not None:
                at = before
                problem = (
                    f"its length, {size} bytes, is wrong: whole records follow from byte {inside}"
                )
    records = tuple(r for p, r in parser.read if p < at and r is not None)
    return LogReading(
        path, records, len(data), len(data) if problem is None else at, problem, cut_short
    )


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
        self.reading = read_log(path)  # how far it reads, and why not further
        self.records = self.reading.records
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
