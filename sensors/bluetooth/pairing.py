"""The runner's paired sensors: the only devices the product ever connects to.

A small JSON file the product writes (not the runner's configuration, which it never
rewrites), readable by this user only, written whole or not at all.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from sensors.profiles import PairedSensor, Role

ADDRESS = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$|^[0-9A-F-]{36}$")  # MAC, or macOS UUID


class PairingError(ValueError):
    pass


def normalise(address: str) -> str:
    address = address.strip().upper()
    if not ADDRESS.match(address):
        raise PairingError(f"{address!r} is not a Bluetooth address like F0:5C:12:34:56:78")
    return address


def load(path: Path) -> list[PairedSensor]:
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["sensors"]
        return [PairedSensor(e["address"], Role(e["role"]), e.get("name", "")) for e in entries]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PairingError(
            f"{path}: cannot read the paired sensors ({err}); pair them again, or remove the file"
        ) from None


def save(path: Path, sensors: list[PairedSensor]) -> None:
    data = {
        "sensors": [{"address": s.address, "role": s.role.value, "name": s.name} for s in sensors]
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".paired-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pair(path: Path, sensor: PairedSensor) -> tuple[list[PairedSensor], PairedSensor | None]:
    """Add `sensor`; one device per role, so it replaces the one it returns, if any."""
    sensors = load(path)
    replaced = next((s for s in sensors if s.role is sensor.role), None)
    kept = [s for s in sensors if s.role is not sensor.role and s.address != sensor.address]
    save(path, [*kept, sensor])
    return [*kept, sensor], replaced


def unpair(path: Path, address: str) -> PairedSensor:
    sensors = load(path)
    gone = next((s for s in sensors if s.address == address), None)
    if gone is None:
        raise PairingError(f"{address} is not paired")
    save(path, [s for s in sensors if s.address != address])
    return gone
