"""The posture faults the coach knows, and how they are said. A vocabulary shared by the
drift rules, the cue catalogue, the drill sessions and the advice after a run."""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    """The posture faults of the coaching knowledge a drift can suggest."""

    FORWARD_LEAN = "forward_lean"
    ANTERIOR_TILT = "anterior_tilt"
    OVERSTRIDE = "overstride"
    BOUNCE = "bounce"
    GLUTES_OFF = "glutes_off"
    SHOULDER_TENSION = "shoulder_tension"

    @property
    def description(self) -> str:
        return _FAULT_WORDS[self]


_FAULT_WORDS = {
    Fault.FORWARD_LEAN: "leaning forward",
    Fault.ANTERIOR_TILT: "pelvis tipping forward",
    Fault.OVERSTRIDE: "overstriding",
    Fault.BOUNCE: "bouncing",
    Fault.GLUTES_OFF: "glutes switching off",
    Fault.SHOULDER_TENSION: "tense shoulders",
}
