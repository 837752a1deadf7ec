"""Raw logs as a runner meets them: whole, cut short by a killed process, or damaged; read,
analysed and imported. Real files written by the real writer, then cut or changed."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from companion import paths
from companion.history.store import Store
from sensors.profiles import RSC_MEASUREMENT
from sensors.recorded.rawlog import MAGIC, RawLogWriter, read_log
from tests.test_cli import companion

POD = {"address": "C0:00:00:00:00:02", "name": "Footpod", "role": "footpod"}
RECORD = 17  # bytes of one footpod notification in the log: 3 of head, 6 of time and names


def footpod_log(path: Path, seconds: int = 600) -> list[int]:
    """A footpod at 3 m/s and 170 steps a minute, a reading a second, as a live run logs
    it (named as the daemon names its logs); the byte offset of each record written."""
    writer = RawLogWriter.create(path)
    offsets: list[int] = []
    at = [len(MAGIC)]

    def seen(record: bytes) -> None:
        offsets.append(at[0])
        at[0] += len(record)

    writer.also = seen
    writer.event(0.0, POD, "connected")
    for t in range(1, seconds + 1):
        flags = 0x02 | 0x04  # distance present, running
        packet = struct.pack("<BHBI", flags, 3 * 256, 170, t * 30)  # distance in decimetres
        writer.packet(float(t), POD, RSC_MEASUREMENT, packet)
    writer.close()
    return offsets  # 0: the device, 1: its "connected", 2: the characteristic, 3...: packets


def test_a_whole_log_reads_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "run.pcraw"
    footpod_log(log, seconds=30)
    reading = read_log(log)
    assert (reading.problem, reading.end, reading.note()) == (None, log.stat().st_size, None)
    assert [r.t for r in reading.records] == [float(t) for t in range(31)]


def test_a_log_cut_short_anywhere_reads_every_whole_record_before_it(tmp_path: Path) -> None:
    # A process killed while writing leaves a last record cut short, wherever it is cut:
    # never damage, and everything before it is read.
    log = tmp_path / "run-20261121-180000.pcraw"
    offsets = footpod_log(log, seconds=40)
    data = log.read_bytes()
    whole = read_log(log).records
    ends = [*offsets[1:], len(data)]
    cut = tmp_path / "cut.pcraw"
    for end in [*range(len(MAGIC) + 1, offsets[5]), *range(len(data) - 3 * RECORD, len(data))]:
        cut.write_bytes(data[:end])
        reading = read_log(cut)
        done = [i for i, e in enumerate(ends) if e <= end]  # the records whole before the cut
        assert not reading.damaged, (end, reading.note())
        assert reading.records == whole[: sum(i not in (0, 2) for i in done)], end
        assert reading.cut_short == (end not in offsets), end
        if reading.cut_short:
            assert reading.end == offsets[len(done)]
            assert f"cut short at byte {offsets[len(done)]} of {end}" in (reading.note() or "")


def _flip(offset: Callable[[list[int]], int], bit: int) -> Callable[[bytearray, list[int]], int]:
    def change(data: bytearray, offsets: list[int]) -> int:
        data[offset(offsets)] ^= 1 << bit
        return offsets[100]

    return change


def _length(record: int, length: int) -> Callable[[bytearray, list[int]], int]:
    def change(data: bytearray, offsets: list[int]) -> int:
        struct.pack_into("<H", data, offsets[record] + 1, length)
        return offsets[record]

    return change


def _insert(data: bytearray, offsets: list[int]) -> int:
    data[offsets[100] : offsets[100]] = b"\x09\x02\x00ab"  # a record type the format lacks
    return offsets[100]


def _time(ms: int) -> Callable[[bytearray, list[int]], int]:
    def change(data: bytearray, offsets: list[int]) -> int:
        struct.pack_into("<I", data, offsets[100] + 3, ms)
        return offsets[100]

    return change


def _device(data: bytearray, offsets: list[int]) -> int:
    data[offsets[100] + 3 + 4] = 7  # a device never declared
    return offsets[100]


def _garbage(data: bytearray, offsets: list[int]) -> int:
    end = len(data)
    data.extend(bytes(20))  # zeros after the last record
    return end


DAMAGE = {
    # what is done to the log: (the change, which returns where the damage is; the words)
    "a type byte flipped to one the format lacks": (
        _flip(lambda o: o[100], 6),
        "unknown record type 67",
    ),
    "a notification's type flipped to a characteristic's": (
        _flip(lambda o: o[100], 0),
        "characteristic 208 declared where characteristic 1 was next",
    ),
    "an unknown record type": (_insert, "unknown record type 9"),
    "a length a little too long": (_length(100, 22), "its length, 22 bytes, is wrong"),
    "a length beyond what a notification holds": (_length(100, 65535), "65535 bytes long"),
    "a length running past the end, whole records after it": (
        _length(-2, 200),
        "runs past the end of the file, yet whole records follow",
    ),
    "a payload naming a device never declared": (_device, "device 7, never declared"),
    "a time going back": (_time(5), "its time, 0.005 s, is before the last, 97.000 s"),
    "a time's high byte flipped": (_time(98_000 + 2**24), "its time jumps ahead to 16875.216 s"),
    "garbage after the last record": (_garbage, "unknown record type 0"),
}


@pytest.mark.parametrize("what", DAMAGE)
def test_damage_is_found_where_it_is_and_what_came_before_it_is_read(
    what: str, tmp_path: Path
) -> None:
    log = tmp_path / "run.pcraw"
    offsets = footpod_log(log, seconds=120)
    whole = read_log(log).records
    data = bytearray(log.read_bytes())
    change, words = DAMAGE[what]
    at = change(data, offsets)
    log.write_bytes(data)
    reading = read_log(log)
    assert reading.damaged and reading.end == at, reading.note()
    records = sum(o < at for o in offsets) - 2  # the device's and the footpod's declarations
    assert reading.records == whole[:records]
    assert reading.note() == (
        f"run.pcraw: damaged at byte {at} of {len(data)} ({reading.problem}); read before "
        f"it: {records} records, {whole[records - 1].t:.0f} s of the run"
    )
    assert words in (reading.problem or "")


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("companion: "), stderr
    return lines[0]


def test_analyze_says_where_a_log_is_damaged_and_fails(tmp_path: Path) -> None:
    log = tmp_path / "run-20261121-180000.pcraw"
    offsets = footpod_log(log)
    data = bytearray(log.read_bytes())
    data[offsets[400]] ^= 0x40  # a flipped bit in a type, 398 s into the run
    log.write_bytes(data)

    done = companion("analyze", str(log), "--json")
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert f"damaged at byte {offsets[400]} of {len(data)} (unknown record type 67)" in line
    assert "read before it: 398 records, 397 s of the run" in line
    result = json.loads(done.stdout)  # the part before the damage, analysed
    assert 390 < result["duration_s"] <= 397 and result["running_s"] > 300

    table = companion("analyze", str(log))
    assert table.returncode == 2 and "minute by minute" in table.stdout
    assert "damaged at byte" in _one_line(table.stderr)


def test_analyze_reads_a_log_cut_short_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "run.pcraw"
    footpod_log(log)
    data = log.read_bytes()
    log.write_bytes(data[:-5])  # the last reading half written
    done = companion("analyze", str(log), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["notes"] == [
        f"run.pcraw: the last record is cut short at byte {len(data) - RECORD} of "
        f"{len(data) - 5} (12 bytes of its 17), as a process killed while writing leaves it; "
        "everything before it was read (600 records, 599 s of the run)"
    ]
    assert result["running_s"] > 500


def test_import_refuses_a_damaged_log_unless_forced_and_keeps_its_bytes(tmp_path: Path) -> None:
    log = tmp_path / "run-20261121-180000.pcraw"
    offsets = footpod_log(log)
    data = bytearray(log.read_bytes())
    struct.pack_into("<H", data, offsets[400] + 1, 9000)  # a length no record has
    log.write_bytes(data)
    before = (hashlib.sha256(data).hexdigest(), log.stat().st_mtime_ns)

    refused = companion("import", str(log))
    assert refused.returncode == 2
    line = _one_line(refused.stderr)
    assert f"damaged at byte {offsets[400]}" in line and "398 records, 397 s" in line
    assert "Nothing was kept" in line and "--force" in line
    with Store(paths.history_db()) as history:
        assert history.runs() == []

    forced = companion("import", str(log), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Kept as run 1" in forced.stdout
    assert f"damaged at byte {offsets[400]}" in forced.stdout
    assert "all of its bytes are kept with the run" in forced.stdout
    with Store(paths.history_db()) as history:
        run = history.run(1)
        assert history.raw_log(run.id) == bytes(data)  # byte for byte, damage and all
        assert run.duration_s is not None and 390 < run.duration_s <= 397
    assert (hashlib.sha256(log.read_bytes()).hexdigest(), log.stat().st_mtime_ns) == before


def test_import_keeps_a_log_cut_short_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "run-20261121-180000.pcraw"
    footpod_log(log)
    log.write_bytes(log.read_bytes()[:-5])
    done = companion("import", str(log))
    assert done.returncode == 0, done.stderr
    assert "cut short at byte" in done.stdout and "kept as it is" in done.stdout
    with Store(paths.history_db()) as history:
        assert history.raw_log(1) == log.read_bytes()
