"""The one interface between where samples come from and what uses them.

A live set of Bluetooth sensors, a recording being replayed and the demo are all sources:
the analysis cannot tell them apart, which is what lets a replay test the live path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from sensors.samples import Sample


class SensorSource(Protocol):
    """Yields samples in time order until the run ends (or the source runs dry)."""

    def stream(self) -> AsyncIterator[Sample]: ...
