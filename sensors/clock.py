"""Run clocks: what time it is in the run, and waiting for a moment in it.

A live run uses a paced clock at speed 1; a replay uses any speed, or none at all when it
should go as fast as the machine can.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    speed: float  # run seconds a wall second; infinite for a clock that does not wait

    def now(self) -> float:
        """Run seconds since the clock started."""
        ...

    async def sleep_until(self, t: float) -> None:
        """Return once the run clock has reached `t`."""
        ...


class PacedClock:
    """Wall time scaled by `speed` (1 = real time, 60 = a minute of run each second).

    If whoever waits on it falls behind by more than `max_lag_s` of wall time (the machine
    stalled, or a replay held still while a cue was spoken), the clock takes up from where
    the waiter is rather than rushing to catch up.
    """

    def __init__(
        self,
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_lag_s: float = 0.5,
    ):
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self.max_lag_s = max_lag_s
        self._monotonic = monotonic
        self._anchor_wall = monotonic()
        self._anchor_t = 0.0

    def now(self) -> float:
        return self._anchor_t + (self._monotonic() - self._anchor_wall) * self.speed

    async def sleep_until(self, t: float) -> None:
        delay = (t - self.now()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > self.max_lag_s:
            self._anchor_wall, self._anchor_t = self._monotonic(), t


class UnpacedClock:
    """Jumps straight to whatever time is asked for: replays as fast as the machine goes."""

    speed = math.inf

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    async def sleep_until(self, t: float) -> None:
        self._now = max(self._now, t)
        await asyncio.sleep(0)  # still let the loop run other tasks (audio, output)
