"""Decoder throughput: ours against the bluetooth-sig library on the same packets.

For each characteristic, the same list of valid payloads (made with a fixed seed, every
flag combination) is decoded by both in one run; the ratio is our packets per second over
theirs. Polar frames have no peer library: their rate is given in samples per second.

Run: .venv/bin/python bench/decoders.py
"""

from __future__ import annotations

import random
import struct
import sys
import time
from collections.abc import Callable

import numpy as np
from bluetooth_sig.gatt.characteristics.battery_level import BatteryLevelCharacteristic
from bluetooth_sig.gatt.characteristics.heart_rate_measurement import (
    HeartRateMeasurementCharacteristic,
)
from bluetooth_sig.gatt.characteristics.rsc_measurement import RSCMeasurementCharacteristic
from rich.console import Console
from rich.table import Table

from sensors.protocols import battery, heart_rate, pmd, rsc

N = 20_000
rng = random.Random(7)


def rsc_packet() -> bytes:
    flags = rng.randrange(8)
    out = struct.pack("<BHB", flags, rng.randrange(1 << 16), rng.randrange(256))
    out += struct.pack("<H", rng.randrange(1 << 16)) if flags & 1 else b""
    return out + (struct.pack("<I", rng.randrange(1 << 32)) if flags & 2 else b"")


def hr_packet() -> bytes:
    flags = rng.randrange(32)
    out = bytes([flags]) + (struct.pack("<H", 150) if flags & 1 else bytes([150]))
    out += struct.pack("<H", 300) if flags & 8 else b""
    rr = [rng.randrange(300, 1200) for _ in range(rng.randrange(1, 4))]
    return out + (struct.pack(f"<{len(rr)}H", *rr) if flags & 16 else b"")


def rate(decode: Callable[[bytes], object], packets: list[bytes]) -> float:
    start = time.perf_counter()
    for p in packets:
        decode(p)
    return len(packets) / (time.perf_counter() - start)


def main() -> int:
    table = Table(title=f"decoders, {N} packets each")
    for column in ("characteristic", "ours (packets/s)", "bluetooth-sig (packets/s)", "ratio"):
        table.add_column(column)
    cases = [
        (
            "RSC measurement 0x2A53",
            [rsc_packet() for _ in range(N)],
            rsc.decode_measurement,
            RSCMeasurementCharacteristic().parse_value,
        ),
        (
            "Heart rate 0x2A37",
            [hr_packet() for _ in range(N)],
            heart_rate.decode_measurement,
            HeartRateMeasurementCharacteristic().parse_value,
        ),
        (
            "Battery level 0x2A19",
            [bytes([rng.randrange(101)]) for _ in range(N)],
            battery.decode_level,
            BatteryLevelCharacteristic().parse_value,
        ),
    ]
    for name, packets, ours, theirs in cases:
        mine, other = rate(ours, packets), rate(theirs, packets)
        table.add_row(name, f"{mine:,.0f}", f"{other:,.0f}", f"{mine / other:.1f}x")
    gen = np.random.default_rng(7)
    for label, frame_type in (
        ("Polar ACC, raw int16, 36 samples", 0x01),
        ("Polar ACC, delta-compressed, 36 samples", 0x81),
    ):
        walk = np.cumsum(gen.integers(-40, 40, size=(N // 10, 36, 3)), axis=1)
        frames = [pmd.encode_frame(2, 10**18, w, frame_type) for w in walk]
        per_s = rate(pmd.decode_frame, frames)
        table.add_row(label, f"{per_s:,.0f} frames", "(no peer)", f"{per_s * 36:,.0f} samples/s")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
