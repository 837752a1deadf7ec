"""The daemon's run lifecycle: which commands make sense when, and what a run is doing.

Pure (as the engine is): the daemon tells it what happened and asks it what is allowed.

    idle → connecting → warm-up (learning the baseline) → running ⇄ paused → finished

A run pauses itself when the runner stops (the engine sees no running for a few
seconds) and resumes when they run again; a pause the runner asked for lasts until they
resume. `finished` is idle with a run behind it: a new run may start.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    WARMUP = "warmup"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


ACTIVE = (Phase.CONNECTING, Phase.WARMUP, Phase.RUNNING, Phase.PAUSED)
MOVING = (Phase.WARMUP, Phase.RUNNING)  # a run under way and not paused


class LifecycleError(ValueError):
    """A command that does not fit what the run is doing; its text is the reply."""


class Lifecycle:
    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.paused_by: str | None = None  # "you" or "stopped running"

    def check_start(self) -> None:
        if self.phase in ACTIVE:
            raise LifecycleError(f"a run is already going ({self.phase}); stop it first")

    def start(self) -> None:
        self.check_start()
        self.phase = Phase.CONNECTING
        self.paused_by = None

    def engine(self, state: str, held: bool) -> None:
        """The engine changed state (connecting, warmup, running, paused, finished)."""
        self.phase = Phase(state)
        if self.phase is Phase.PAUSED:
            self.paused_by = "you" if held else "stopped running"
        else:
            self.paused_by = None

    def check_pause(self) -> None:
        if self.phase in MOVING or (self.phase is Phase.PAUSED and self.paused_by != "you"):
            return  # paused by stopping: the runner's pause holds it when they move again
        raise LifecycleError(
            {
                Phase.PAUSED: "the run is already paused",
                Phase.CONNECTING: "nothing to pause yet: the sensors are still connecting",
            }.get(self.phase, "no run to pause: start one with `companion start`")
        )

    def check_resume(self) -> None:
        if self.phase is Phase.PAUSED and self.paused_by == "you":
            return
        if self.phase is Phase.PAUSED:
            raise LifecycleError(
                "the run paused itself because you stopped; it resumes when you run again"
            )
        raise LifecycleError(
            "the run is not paused"
            if self.phase in ACTIVE
            else "no run to resume: start one with `companion start`"
        )

    def check_stop(self) -> None:
        if self.phase not in ACTIVE:
            raise LifecycleError("no run to stop")


@dataclass
class AutoStart:
    """Start a run when the paired footpod shows running cadence for a while.

    A few strides across the kitchen do not count: the cadence must stay at running
    level for `hold_s` without a gap longer than `gap_s`.
    """

    spm: float = 140.0
    hold_s: float = 10.0
    gap_s: float = 3.0
    _since: float | None = None
    _last: float | None = None

    def footpod(self, t: float, cadence_spm: float | None) -> bool:
        """Feed one footpod reading; True once the runner is clearly running."""
        running = cadence_spm is not None and cadence_spm >= self.spm
        gap = self._last is not None and t - self._last > self.gap_s
        if not running or gap:
            self._since = t if running else None
        elif self._since is None:
            self._since = t
        self._last = t
        return self._since is not None and t - self._since >= self.hold_s
