"""The GATT services and characteristics the product speaks, and the sensor roles.

A runner pairs each device in a role: `footpod` (Running Speed and Cadence), `chest` or
`pelvis` (a motion sensor worn there: a Polar strap's accelerometer or our plain IMU
profile; a chest strap's heart rate comes along), or `hr` (heart rate only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sensors.protocols import imu, pmd
from sensors.samples import Placement


def sig(short: int) -> str:
    """The full UUID of a 16-bit Bluetooth SIG number."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


RSC_SERVICE, RSC_MEASUREMENT, RSC_FEATURE = sig(0x1814), sig(0x2A53), sig(0x2A54)
HR_SERVICE, HR_MEASUREMENT = sig(0x180D), sig(0x2A37)
BATTERY_SERVICE, BATTERY_LEVEL = sig(0x180F), sig(0x2A19)


class Role(StrEnum):
    FOOTPOD = "footpod"
    CHEST = "chest"
    PELVIS = "pelvis"
    HR = "hr"

    @property
    def placement(self) -> Placement:
        return {Role.CHEST: Placement.CHEST, Role.PELVIS: Placement.PELVIS}.get(
            self, Placement.OTHER
        )

    @property
    def spoken(self) -> str:
        """How the coach names it: "Footpod lost."."""
        return _SPOKEN[self]


_SPOKEN = {
    Role.FOOTPOD: "Footpod",
    Role.CHEST: "Chest strap",
    Role.PELVIS: "Hip sensor",
    Role.HR: "Heart rate strap",
}


def spoken_name(role: str) -> str:
    """The spoken name of a role, or of an unknown one ("Sensor")."""
    try:
        return Role(role).spoken
    except ValueError:
        return "Sensor"


SPOKEN_NAMES = tuple(_SPOKEN.values())

# What each of our profiles is called, by the service that shows a device offers it.
PROFILES = {
    RSC_SERVICE: "footpod (running speed and cadence)",
    HR_SERVICE: "heart rate",
    pmd.SERVICE: "Polar accelerometer",
    imu.SERVICE: "plain IMU",
    BATTERY_SERVICE: "battery",
}

# The services a device needs to fill a role (any one of them).
ROLE_SERVICES = {
    Role.FOOTPOD: {RSC_SERVICE},
    Role.CHEST: {pmd.SERVICE, imu.SERVICE},
    Role.PELVIS: {pmd.SERVICE, imu.SERVICE},
    Role.HR: {HR_SERVICE},
}


def offered(service_uuids: list[str]) -> list[str]:
    """Our profiles among the services a device advertises or has."""
    lowered = {u.lower() for u in service_uuids}
    return [name for uuid, name in PROFILES.items() if uuid in lowered]


@dataclass(frozen=True)
class PairedSensor:
    address: str
    role: Role
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.address

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.label,
            "role": self.role.value,
            "placement": self.role.placement.value,
        }
