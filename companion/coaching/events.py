"""What happens during a run, as plain records: the timeline, the JSON lines, the summary.

Every event has `t` (run seconds) and a `kind`; `to_dict` gives the JSON form, where `id`,
`text` and `audio` appear wherever they apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from companion.form.record import Episode


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    t: float
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 2), "kind": self.kind}
        for f in fields(self):
            if f.name != "t":
                out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "start"
    source: str
    sensor: str
    placement: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    kind: ClassVar[str] = "state"
    state: str


@dataclass(frozen=True, kw_only=True)
class Calibrated(Event):
    """The sensor's axes were matched to the body's."""

    kind: ClassVar[str] = "calibrated"
    sensor: str
    up: list[float]
    forward: list[float]


@dataclass(frozen=True, kw_only=True)
class BaselineLearned(Event):
    kind: ClassVar[str] = "baseline"
    values: dict[str, float]
    spread: dict[str, float] = field(default_factory=dict)  # median absolute deviation
    slopes: dict[str, float] = field(default_factory=dict)  # the runner's own, per m/s


@dataclass(frozen=True, kw_only=True)
class Metrics(Event):
    kind: ClassVar[str] = "metrics"
    running: bool
    running_s: float
    cadence_spm: float | None = None
    lean_deg: float | None = None
    side_lean_deg: float | None = None
    steps: int = 0
    values: dict[str, float] = field(default_factory=dict)  # every metric, `source.metric`
    speed_mps: float | None = None
    heart_rate_bpm: float | None = None


@dataclass(frozen=True, kw_only=True)
class _DriftEvent(Event):
    id: str  # the fault
    text: str  # the fault in words
    episode: dict[str, Any]

    @classmethod
    def of(cls, ep: Episode, t: float) -> Self:
        return cls(t=t, id=ep.fault.value, text=ep.fault.description, episode=ep.to_dict())


@dataclass(frozen=True, kw_only=True)
class DriftStarted(_DriftEvent):
    kind: ClassVar[str] = "drift_start"


@dataclass(frozen=True, kw_only=True)
class DriftEnded(_DriftEvent):
    kind: ClassVar[str] = "drift_end"


@dataclass(frozen=True, kw_only=True)
class CueSpoken(Event):
    kind: ClassVar[str] = "cue"
    id: str
    text: str
    category: str
    about: str | None = None
    episode: int | None = None  # the drift a form cue answers
    audio: str | None = None  # the rendered speech file, once there is one


@dataclass(frozen=True, kw_only=True)
class MetronomeTicks(Event):
    """Soft ticks at the runner's own cadence, after an overstriding cue (when enabled)."""

    kind: ClassVar[str] = "metronome"
    spm: float
    beats: int
    audio: str | None = None


@dataclass(frozen=True, kw_only=True)
class SensorChanged(Event):
    """A sensor connected, was lost or came back."""

    kind: ClassVar[str] = "sensor"
    id: str  # the sensor's name
    role: str
    link: str


@dataclass(frozen=True, kw_only=True)
class SensorMoved(Event):
    """A trunk sensor moved on the body: its axes and what was read through them are
    learned again."""

    kind: ClassVar[str] = "sensor_moved"
    source: str  # where it is worn: pelvis, chest
    why: str


@dataclass(frozen=True, kw_only=True)
class TerrainChanged(Event):
    """A hill began or ended, as the tilt and braking tell it: form rules hold on a hill."""

    kind: ClassVar[str] = "terrain"
    terrain: str  # level, uphill, downhill


@dataclass(frozen=True, kw_only=True)
class Battery(Event):
    kind: ClassVar[str] = "battery"
    id: str
    role: str
    percent: int


@dataclass(frozen=True, kw_only=True)
class FaultInjected(Event):
    """The demo starts adding a made-up form fault to the recording (not the runner's)."""

    kind: ClassVar[str] = "fault_injected"
    id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class FaultCleared(Event):
    kind: ClassVar[str] = "fault_cleared"
    id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Summary(Event):
    kind: ClassVar[str] = "summary"
    text: str
    stats: dict[str, Any] = field(default_factory=dict)
    audio: str | None = None
