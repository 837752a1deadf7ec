"""The metrics of a run's form, named `source.metric` (`pelvis.bounce_cm`), and what each one
is: a vocabulary shared by the analysis, the drift rules, the history and the report."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.samples import Placement


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    digits: int = 1
    short: str = ""  # for narrow table headings

    @property
    def heading(self) -> str:
        return self.short or self.label


# What each metric is, for tables and spoken summaries.
METRICS: dict[str, MetricInfo] = {
    "cadence_spm": MetricInfo("cadence", "steps/min", 0, "cadence"),
    "step_time_cv_pct": MetricInfo("stride-time variability", "%", 1, "stride var"),
    "bounce_cm": MetricInfo("bounce", "cm"),
    "braking_g": MetricInfo("braking", "g", 2),
    "contact_ms": MetricInfo("ground contact", "ms", 0, "contact"),
    "lean_deg": MetricInfo("forward lean", "°", 1, "lean"),
    "side_lean_deg": MetricInfo("side lean", "°", 1, "side"),
    "pelvic_drop_deg": MetricInfo("pelvic drop", "°", 1, "drop"),
    "rotation_deg": MetricInfo("rotation", "°", 1, "rotation"),
    "speed_mps": MetricInfo("speed", "m/s", 2),
    "stride_m": MetricInfo("stride length", "m", 2, "stride"),
    "overstride_pct": MetricInfo("overstride (vs own stride at this speed)", "%", 1, "overstride"),
    "lumbar_arch_deg": MetricInfo("lumbar arch", "°", 1, "arch"),
}
FOOTPOD = "footpod"
SPINE = "spine"  # the chest and the pelvis sensor together
SOURCES = (Placement.PELVIS.value, Placement.CHEST.value, FOOTPOD, SPINE)


def key(source: str, metric: str) -> str:
    return f"{source}.{metric}"
