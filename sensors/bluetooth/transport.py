"""Which Bluetooth stack the sensors are reached through, as the runner names it.

Light to import: the configuration checks a transport without loading the BLE libraries,
which come in only when a scan or a run uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Transport:
    """Which BLE stack: the system's (BlueZ on Linux) or Bumble over a transport such as a
    USB dongle (``bumble:usb:0``) or `companion simulate` (``bumble:tcp-client:…``)."""

    spec: str = "system"

    @classmethod
    def parse(cls, spec: str) -> Transport:
        if spec not in ("system", "bumble") and not spec.startswith("bumble:"):
            raise ValueError(f"transport {spec!r}: use 'system' or 'bumble:<transport>'")
        return cls(spec)

    @property
    def bumble(self) -> str | None:
        """The Bumble transport, "" for a radio the caller configured, None for system."""
        if self.spec == "bumble":
            return ""
        return self.spec.removeprefix("bumble:") if self.spec.startswith("bumble:") else None

    def activate(self) -> None:
        if self.bumble:
            from sensors.bluetooth.bumble_backend import BumbleRadio

            BumbleRadio.configure(transport=self.bumble)

    def explain(self, err: BaseException) -> str:
        """What went wrong, and for the system stack what to do without BlueZ."""
        from bleak.exc import BleakDBusError

        if self.bumble is None and isinstance(err, OSError | BleakDBusError):
            return (
                f"cannot use the system's Bluetooth ({err}). Is bluetoothd running? "
                "Without BlueZ, use a USB dongle with --transport bumble:usb:0, or "
                "virtual sensors with `companion simulate` and "
                "--transport bumble:tcp-client:127.0.0.1:9001"
            )
        return str(err) or type(err).__name__

    def scanner(self) -> dict[str, Any]:
        """What to give BleakScanner: our Bumble backend, or nothing for the system's."""
        from sensors.bluetooth.bumble_backend import BumbleScanner

        return {"backend": BumbleScanner} if self.bumble is not None else {}

    def client(self) -> dict[str, Any]:
        from sensors.bluetooth.bumble_backend import BumbleClient

        return {"backend": BumbleClient} if self.bumble is not None else {}
