"""The post-run summary: numbers from the run and the sentence that is spoken."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from companion.spoken import spoken_distance, spoken_duration

if TYPE_CHECKING:
    from companion.drift import Episode


@dataclass(frozen=True)
class RunStats:
    duration_s: float
    running_s: float
    cadence_spm: float | None  # mean over running windows
    judged_s: float  # running after the baseline was learned
    held_s: float  # of which with no drift open
    episodes: tuple[Episode, ...]
    form_cues: int
    cues: int
    heart_rate_bpm: float | None = None
    distance_m: float | None = None

    @property
    def form_held(self) -> float | None:
        return self.held_s / self.judged_s if self.judged_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 1),
            "running_s": round(self.running_s, 1),
            "cadence_spm": None if self.cadence_spm is None else round(self.cadence_spm, 1),
            "form_held": None if self.form_held is None else round(self.form_held, 3),
            "drift_episodes": [ep.to_dict() for ep in self.episodes],
            "form_cues": self.form_cues,
            "cues": self.cues,
            "heart_rate_bpm": self.heart_rate_bpm,
            "distance_m": self.distance_m,
        }


def _count(n: int, one: str, many: str) -> str:
    return f"one {one}" if n == 1 else f"{n} {many}"


def summary_text(stats: RunStats, advice: str | None = None) -> str:
    """A few short sentences: how long, cadence, how well form held, the drifts, the cues,
    and the drill session `advice` names."""
    first = f"Run complete: {spoken_duration(stats.duration_s)}"
    if stats.distance_m:
        first += f", {spoken_distance(stats.distance_m)}"
    if stats.cadence_spm is not None:
        first += f", cadence {round(stats.cadence_spm)}"
    if stats.heart_rate_bpm is not None:
        first += f", heart rate {round(stats.heart_rate_bpm)}"
    parts = [first + "."]
    if stats.form_held is None:
        parts.append("Too short to learn your form this time.")
        return " ".join(parts)
    parts.append(f"Form held {round(100 * stats.form_held)} percent.")
    if not stats.episodes:
        parts.append("No drift. Well run.")
    else:
        faults = " and ".join(dict.fromkeys(ep.fault.description for ep in stats.episodes))
        parts.append(f"{_count(len(stats.episodes), 'drift', 'drifts').capitalize()}: {faults}.")
    if stats.form_cues:
        parts.append(f"{_count(stats.form_cues, 'cue', 'cues').capitalize()}.")
    if advice:
        parts.append(advice)
    return " ".join(parts)
