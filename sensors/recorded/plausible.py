"""What a recording's numbers say about themselves: a sample rate a body-worn sensor could
have, and gravity reading about 1 g. A unit mislabelled by a factor of 1000 (times) or 9.8
(acceleration) lands far outside both, whatever the runner did.

Pure: each function looks at arrays and gives the problem in words, or None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.samples import FloatArray

G = 9.80665  # m/s² per g
RATE_HZ = (10.0, 2000.0)  # body-worn accelerometers sample in this range
GRAVITY_G = (1 / 3, 3.0)  # gravity as read, in g: ×9.8 or ÷9.8 falls outside
QUIET_S = 0.5  # blocks of this long whose |a| barely varies are a sensor at rest
QUIET_CV = 0.05  # "barely": the spread of |a| within 5 % of its mean
MIN_QUIET = 2  # blocks at rest needed to judge gravity from them


def sample_rate(t: FloatArray) -> float:
    """Samples per second, from the median step between the times."""
    return float(1.0 / np.median(np.diff(t))) if t.size > 1 else 0.0


def plausible_rate(rate_hz: float) -> bool:
    return RATE_HZ[0] <= rate_hz <= RATE_HZ[1]


@dataclass(frozen=True)
class RateProblem:
    rate_hz: float
    looks_like: str | None  # "ms" when the times would fit as milliseconds, "s" as seconds

    def words(self, column: str, sensor: str) -> str:
        low, high = RATE_HZ
        return (
            f"the times in {column!r} give {sensor} a sample rate of {self.rate_hz:.3g} Hz, "
            f"where a sensor gives {low:g} to {high:g} Hz"
        )


def rate_problem(t: FloatArray, seconds_per_tick: float = 1.0) -> RateProblem | None:
    """None when times `t` (already in seconds) step at a plausible rate; else the rate,
    and which unit the raw times would fit as."""
    rate = sample_rate(t)
    if plausible_rate(rate):
        return None
    ticks = rate * seconds_per_tick  # the rate if the raw times were seconds
    if seconds_per_tick != 1.0 and plausible_rate(ticks):
        return RateProblem(rate, "s")
    if seconds_per_tick != 0.001 and plausible_rate(ticks * 1000):
        return RateProblem(rate, "ms")
    return RateProblem(rate, None)


def gravity_g(xyz: FloatArray, rate_hz: float) -> float:
    """Gravity as an accelerometer read it (in its own units): the median |a| while the
    sensor was at rest, or, with too little rest (a treadmill excerpt), the length of the
    mean vector, which over whole strides is gravity whatever the steps add."""
    mag = np.linalg.norm(xyz, axis=1)
    n = max(2, round(QUIET_S * rate_hz))
    blocks = mag[: mag.size // n * n].reshape(-1, n)
    if blocks.size:
        mean = blocks.mean(axis=1)
        quiet = blocks[blocks.std(axis=1) < QUIET_CV * np.abs(mean)]
        if len(quiet) >= MIN_QUIET:
            return float(np.median(quiet))
    return float(np.linalg.norm(xyz.mean(axis=0)))


@dataclass(frozen=True)
class UnitProblem:
    reads: float  # gravity in the unit the columns say
    unit: str  # that unit: "g" or "ms2"
    looks_like: str | None  # the unit it would fit: "g" or "ms2"; None when neither

    def words(self) -> str:
        said = f"{self.reads:.3g} g" if self.unit == "g" else f"{self.reads:.3g} m/s²"
        problem = f"gravity reads {said}, where an accelerometer at rest reads 1 g (9.8 m/s²)"
        if self.looks_like == "ms2":
            return f"{problem}: the values look like m/s²"
        if self.looks_like == "g":
            return f"{problem}: the values look like g"
        return f"{problem}: the unit is neither g nor m/s², or gravity was taken out"


def unit_problem(xyz_g: FloatArray, rate_hz: float, unit: str) -> UnitProblem | None:
    """None when an accelerometer's samples (converted to g from `unit`) read gravity as
    about 1 g; else what they read and which unit they would fit."""
    est = gravity_g(xyz_g, rate_hz)
    low, high = GRAVITY_G
    if low <= est <= high:
        return None
    reads = est * G if unit == "ms2" else est
    if unit == "g" and low <= est / G <= high:
        return UnitProblem(reads, unit, "ms2")
    if unit == "ms2" and low <= est * G <= high:
        return UnitProblem(reads, unit, "g")
    return UnitProblem(reads, unit, None)
