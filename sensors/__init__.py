"""Getting motion out of devices: typed samples, sources (live or recorded) and clocks."""

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
