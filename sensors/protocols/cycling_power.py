"""Cycling Power (service 0x1818): measurement 0x2A63, which running footpods such as Stryd
also use for running power.

Measurement layout (little-endian): flags uint16, instantaneous power sint16 in watts, then
the optional fields the flags announce, in this order: pedal power balance uint8 (bit 0),
accumulated torque uint16 (bit 2), wheel revolutions uint32 + uint16 (bit 4), crank
revolutions uint16 + uint16 (bit 5), extreme forces 2 × sint16 (bit 6), extreme torques
2 × sint16 (bit 7), extreme angles 3 bytes (bit 8), top and bottom dead spot angles uint16
each (bits 9, 10), accumulated energy uint16 in kJ (bit 11). Running needs only the power;
the rest is checked for length so that a damaged packet is not read as a good one.
"""

from __future__ import annotations

import struct

from sensors.protocols.errors import DecodeError, need

MEASUREMENT = "cycling power measurement"

# Bytes each optional field takes, by its flag bit, in the order they follow the power.
_OPTIONAL = ((0, 1), (2, 2), (4, 6), (5, 4), (6, 4), (7, 4), (8, 3), (9, 2), (10, 2), (11, 2))


def decode_power(data: bytes) -> int:
    """The instantaneous power in watts."""
    need(MEASUREMENT, data, 4, "flags and power")
    flags, watts = struct.unpack_from("<Hh", data)
    size = 4 + sum(n for bit, n in _OPTIONAL if flags & (1 << bit))
    if len(data) < size:
        raise DecodeError(MEASUREMENT, data, f"its flags need {size} bytes, it has {len(data)}")
    if len(data) > size:
        raise DecodeError(MEASUREMENT, data, f"{len(data) - size} bytes more than its flags say")
    if watts < 0:
        raise DecodeError(MEASUREMENT, data, f"{watts} W is negative: a runner cannot do that")
    return int(watts)
