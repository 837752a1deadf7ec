"""The drift rules: when a metric has moved far enough from the runner's own baseline, for
long enough, to be called a drift, and which fault it suggests for each source. Read and
checked from a TOML file (`drift_rules.toml` is the bundled one, which explains each field).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from companion.form.metrics import METRICS, SOURCES
from cues.datafile import DataFileError, load_entries
from cues.faults import Fault

DEFAULT_RULES = Path(__file__).with_name("drift_rules.toml")


def _known(names: set[str], known: Iterable[str], what: str) -> None:
    unknown = sorted(names - set(known))
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise ValueError(f"unknown {what} {listed} (known: {', '.join(known)})")


class Need(BaseModel):
    """Another metric that must have moved too, past `by` in its own rule's unit."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    direction: Literal["above", "below"]
    by: float = Field(ge=0)


class DriftRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    metric: str
    direction: Literal["above", "below"]
    threshold: float = Field(gt=0)
    clear: float = Field(ge=0)
    relative: bool = False
    per_mps: float = 0.0  # change of the metric per m/s faster, in the threshold's unit
    pace_from_cadence: bool = False  # without a speed source, the pace change from cadence
    cadence_power: float = 0.0  # compared at the baseline's cadence: × (cadence / base)^power
    needs: dict[str, Need] = {}  # metrics that must have moved too
    persist_s: float = Field(default=20.0, ge=0)
    clear_s: float = Field(default=10.0, ge=0)
    faults: dict[str, Fault]

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        _known({metric}, METRICS, "metric")
        return metric

    @field_validator("faults")
    @classmethod
    def _known_sources(cls, faults: dict[str, Fault]) -> dict[str, Fault]:
        _known(set(faults), SOURCES, "source")
        return faults

    @field_validator("needs")
    @classmethod
    def _known_needs(cls, needs: dict[str, Need]) -> dict[str, Need]:
        _known(set(needs), METRICS, "metric in needs")
        return needs

    @model_validator(mode="after")
    def _hysteresis(self) -> DriftRule:
        if self.clear >= self.threshold:
            raise ValueError(f"clear ({self.clear}) must be below threshold ({self.threshold})")
        return self

    def expected(self, base: float, base_speed: float | None, speed: float | None) -> float:
        """The baseline value at the current speed (the baseline itself without speeds)."""
        if base_speed is None or speed is None:
            return base
        return self.at_pace(base, speed - base_speed)

    def at_pace(self, base: float, faster_mps: float | None, per_mps: float | None = None) -> float:
        """The baseline value `faster_mps` faster than the baseline's pace (at `per_mps`,
        the runner's own slope, where known; else the rule's)."""
        slope = self.per_mps if per_mps is None else per_mps
        if faster_mps is None or not slope:
            return base
        change = slope * faster_mps
        return base * (1 + change) if self.relative else base + change

    def excess(self, value: float, base: float) -> float:
        """How far past the baseline `value` is, in the rule's direction and unit."""
        delta = value - base
        if self.relative:
            delta /= base
        return delta if self.direction == "above" else -delta


class RulesError(DataFileError):
    """A drift rules file that cannot be used, with where and what."""


def load_rules(path: Path | str | None = None) -> tuple[DriftRule, ...]:
    """Read and check a drift rules file (the bundled one by default)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    return tuple(load_entries(path, "rule", DriftRule, RulesError))
