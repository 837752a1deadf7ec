"""Heart Rate Measurement (service 0x180D, characteristic 0x2A37).

Layout (little-endian): flags uint8 (bit 0 heart rate is uint16, bits 1-2 sensor contact,
bit 3 energy expended present, bit 4 RR intervals present); heart rate uint8 or uint16
(beats per minute); [energy expended uint16, kJ]; [RR intervals uint16 each, 1/1024 s, as
many as the packet holds].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from sensors.protocols.errors import DecodeError, need

WHAT = "heart rate measurement"


class Contact(StrEnum):
    NOT_SUPPORTED = "not_supported"
    NOT_DETECTED = "supported_not_detected"  # the strap is not touching skin
    DETECTED = "supported_detected"


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    bpm: int
    contact: Contact
    energy_kj: int | None = None
    rr_s: tuple[float, ...] = ()


def decode_measurement(data: bytes) -> HeartRateMeasurement:
    need(WHAT, data, 2, "flags and heart rate")
    flags = data[0]
    if flags & 0x01:
        need(WHAT, data, 3, "a 16-bit heart rate")
        (bpm,) = struct.unpack_from("<H", data, 1)
        at = 3
    else:
        bpm, at = data[1], 2
    contact_bits = (flags >> 1) & 0x03
    contact = {2: Contact.NOT_DETECTED, 3: Contact.DETECTED}.get(
        contact_bits, Contact.NOT_SUPPORTED
    )
    energy = None
    if flags & 0x08:
        need(WHAT, data, at + 2, "energy expended")
        (energy,) = struct.unpack_from("<H", data, at)
        at += 2
    rr: tuple[float, ...] = ()
    if flags & 0x10:
        rest = data[at:]
        if not rest or len(rest) % 2:
            raise DecodeError(WHAT, data, f"RR intervals flagged but {len(rest)} bytes follow")
        rr = tuple(raw / 1024.0 for raw in struct.unpack(f"<{len(rest) // 2}H", rest))
    elif len(data) != at:
        raise DecodeError(WHAT, data, f"{len(data) - at} bytes more than its flags say")
    return HeartRateMeasurement(bpm, contact, energy, rr)
