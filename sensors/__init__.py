"""Getting motion out of devices: typed samples, sources (live or recorded) and clocks.

`protocols` decodes bytes (pure), `recorded` reads files, `bluetooth` talks to live
devices. May import nothing of companion or cues.
"""

from sensors.clock import Clock, PacedClock, UnpacedClock
from sensors.samples import AccelBatch, FootpodSample, HeartRateSample, Placement, Sample
from sensors.source import SensorSource

__all__ = [
    "AccelBatch",
    "Clock",
    "FootpodSample",
    "HeartRateSample",
    "PacedClock",
    "Placement",
    "Sample",
    "SensorSource",
    "UnpacedClock",
]
