"""Battery Level (service 0x180F, characteristic 0x2A19): one byte, 0-100 percent."""

from __future__ import annotations

from sensors.protocols.errors import DecodeError

WHAT = "battery level"


def decode_level(data: bytes) -> int:
    if len(data) != 1:
        raise DecodeError(WHAT, data, f"expected 1 byte, got {len(data)}")
    if data[0] > 100:
        raise DecodeError(WHAT, data, f"{data[0]} % is more than 100 %")
    return data[0]
