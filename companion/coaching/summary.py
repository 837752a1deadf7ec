"""The post-run summary: numbers from the run and the sentences that are spoken.

Pure: the same words for a run that just ended (from the engine) and for one read back
from the history (from its seconds, drifts and cues), compared with the runs before it of
its own kind (`Store.earlier`: like with like, never with a replay; see `store.alike`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import TYPE_CHECKING, Any

from companion.coaching.spoken import spoken_distance, spoken_duration, spoken_pace
from cues.faults import Fault
from cues.words import counted

if TYPE_CHECKING:
    from companion.form.record import Episode, RunInfo, Second

RECENT_RUNS = 5  # the drift onset is compared with the average of this many runs before


@dataclass(frozen=True)
class CueResult:
    """A form cue and what followed it: the drift it answered ended, or lasted the run."""

    t: float
    cue_id: str
    text: str
    fault: str
    corrected_after_s: float | None  # None: the drift was still there when the run ended


def cue_results(
    cues: Iterable[tuple[float, str, str, int | None]], episodes: Sequence[Episode]
) -> tuple[CueResult, ...]:
    """(t, cue id, wording, episode) of each cue said, and how soon its drift ended."""
    by_id = {ep.id: ep for ep in episodes}
    out = []
    for t, cue_id, text, episode in cues:
        ep = by_id.get(episode) if episode is not None else None
        if ep is None:
            continue
        corrected = ep.end is not None and not ep.ran_out and not ep.moved
        after = max(0.0, ep.end - t) if corrected and ep.end is not None else None
        out.append(CueResult(t, cue_id, text, ep.fault.value, after))
    return tuple(out)


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
    cue_results: tuple[CueResult, ...] = ()
    learn_s: float | None = None  # running before form is judged (warm-up and learning)

    @property
    def form_held(self) -> float | None:
        return self.held_s / self.judged_s if self.judged_s > 0 else None

    @property
    def drift_onset_s(self) -> float | None:
        return min((ep.start for ep in self.episodes), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 1),
            "running_s": round(self.running_s, 1),
            "cadence_spm": None if self.cadence_spm is None else round(self.cadence_spm, 1),
            "judged_s": round(self.judged_s, 1),
            "held_s": round(self.held_s, 1),
            "form_held": None if self.form_held is None else round(self.form_held, 3),
            "drift_episodes": [ep.to_dict() for ep in self.episodes],
            "form_cues": self.form_cues,
            "cues": self.cues,
            "heart_rate_bpm": self.heart_rate_bpm,
            "distance_m": self.distance_m,
            "cue_results": [
                {
                    "t": round(c.t, 2),
                    "cue": c.cue_id,
                    "text": c.text,
                    "fault": c.fault,
                    "corrected_after_s": c.corrected_after_s,
                }
                for c in self.cue_results
            ],
        }


def stats_of(
    seconds: Sequence[Second],
    episodes: Sequence[Episode],
    cues: Sequence[tuple[float, str, str, str, int | None]],
    hop_s: float = 1.0,
) -> RunStats:
    """A run's totals from what the history kept of it: its seconds, its drifts and its cues
    as (t, cue id, category, wording, episode). What the engine would have said, for a run
    whose process was killed before it could."""
    end = seconds[-1].t if seconds else 0.0
    running = [s for s in seconds if s.running]
    cadences = [s.cadence_spm for s in running if s.cadence_spm is not None]
    rates = [s.heart_rate_bpm for s in seconds if s.heart_rate_bpm is not None]
    distance = next((s.distance_m for s in reversed(seconds) if s.distance_m is not None), None)
    judged = [s for s in seconds if s.judged]
    for ep in episodes:
        if ep.end is None:  # still open when the process died: it lasted to the end
            ep.end, ep.ran_out = max(end, ep.start), True
    return RunStats(
        duration_s=end,
        running_s=hop_s * len(running),
        cadence_spm=fmean(cadences) if cadences else None,
        judged_s=hop_s * len(judged),
        held_s=hop_s * sum(not s.drifting for s in judged),
        episodes=tuple(episodes),
        form_cues=sum(category == "form" for _, _, category, _, _ in cues),
        cues=len(cues),
        heart_rate_bpm=fmean(rates) if rates else None,
        distance_m=distance,
        cue_results=cue_results(
            ((t, cue_id, text, ep) for t, cue_id, _, text, ep in cues), episodes
        ),
    )


def _minutes(seconds: float) -> int:
    return round(seconds / 60)


def _drifts(stats: RunStats) -> str:
    """When form first drifted and how: the faults, the longest-lasting first."""
    lasted: dict[Fault, float] = {}
    for ep in stats.episodes:
        lasted[ep.fault] = lasted.get(ep.fault, 0.0) + (ep.end or stats.duration_s) - ep.start
    faults = sorted(lasted, key=lambda f: -lasted[f])
    words = " and ".join(f.description for f in faults[:2])  # the rest would be too long
    onset = stats.drift_onset_s or 0.0
    return f"From minute {max(1, _minutes(onset))}: {words}."


def _helped(stats: RunStats) -> str | None:
    """The cue after which the runner corrected fastest, and how fast."""
    worked = [c for c in stats.cue_results if c.corrected_after_s is not None]
    if not worked:
        return None
    best = min(worked, key=lambda c: c.corrected_after_s or 0.0)
    after = best.corrected_after_s or 0.0
    wording = best.text.split(".")[0].rstrip("!")  # its first sentence names it
    return f"“{wording}” helped: corrected in {spoken_duration(after)}."


def _not_judged(stats: RunStats) -> str:
    """Why a run's form was not judged: too little running to learn it from."""
    need = stats.learn_s
    if need is None or stats.running_s >= need:
        return "Too short to learn your form this time."
    takes = f"Too short to learn your form: that takes {spoken_duration(need)} of steady running"
    if stats.running_s > 0:
        return f"{takes}, and this run had {spoken_duration(stats.running_s)}."
    if stats.duration_s >= need:  # long enough, but never running (walking, a loose sensor)
        return "No steady running heard, so your form was not learned."
    return f"{takes}."


def _when(then: datetime, now: datetime) -> str:
    days = (now.date() - then.astimezone(now.tzinfo).date()).days
    if days <= 0:
        return "earlier today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"on {then.strftime('%A')}"
    if days < 14:
        return "last week"
    return "on your last run"


def compared(stats: RunStats, now: datetime, earlier: Sequence[RunInfo]) -> list[str]:
    """How this run's form compares with the runs before it (most recent first)."""
    judged = [r for r in earlier if r.judged_s and r.held_s is not None]
    if stats.form_held is None or not judged:
        return []
    last = judged[0]
    assert last.held_s is not None
    diff = _minutes(stats.held_s) - _minutes(last.held_s)
    when = _when(last.started, now)
    if diff > 0:
        parts = [f"Form held {counted(diff, 'minute')} longer than {when}."]
    elif diff < 0:
        parts = [f"Form held {counted(-diff, 'minute')} less than {when}."]
    else:
        parts = [f"Form held about as long as {when}."]
    onsets = [r.drift_onset_s for r in judged[:RECENT_RUNS] if r.drift_onset_s is not None]
    onset = stats.drift_onset_s
    if onset is not None and len(onsets) >= 2:
        later = _minutes(onset) - _minutes(fmean(onsets))
        if abs(later) >= 2:
            word = "later" if later > 0 else "earlier"
            parts.append(f"Drift began {counted(abs(later), 'minute')} {word} than of late.")
    return parts


def summary_text(
    stats: RunStats,
    advice: str | None = None,
    earlier: Sequence[RunInfo] = (),
    now: datetime | None = None,
) -> str:
    """A few short sentences: how long, pace and cadence, how long form held, when and how
    it drifted, the cue that helped, how that compares with the runs `earlier`, and the
    drill session `advice` names."""
    first = f"Run complete: {spoken_duration(stats.duration_s)}"
    if stats.distance_m:
        first += f", {spoken_distance(stats.distance_m)}"
        pace = spoken_pace(stats.distance_m, stats.running_s)
        if pace:
            first += f", {pace}"
    if stats.cadence_spm is not None:
        first += f", cadence {round(stats.cadence_spm)}"
    if stats.heart_rate_bpm is not None:
        first += f", heart rate {round(stats.heart_rate_bpm)}"
    parts = [first + "."]
    if stats.form_held is None:
        parts.append(_not_judged(stats))
        return " ".join(parts)
    held, judged = _minutes(stats.held_s), _minutes(stats.judged_s)
    if judged >= 2:
        parts.append(f"Form held {held} of {judged} minutes.")
    else:
        parts.append(f"Form held {round(100 * stats.form_held)} percent.")
    if not stats.episodes:
        parts.append("No drift. Well run.")
    else:
        parts.append(_drifts(stats))
    helped = _helped(stats)
    if helped:
        parts.append(helped)
    parts += compared(stats, now or datetime.now().astimezone(), earlier)
    if advice:
        parts.append(advice)
    return " ".join(parts)


def spoken_summary(
    stats: RunStats, earlier: Sequence[RunInfo] = (), now: datetime | None = None
) -> str:
    """The summary said after a run: `summary_text` ending with the drill session for what
    the run showed (none when too short to judge)."""
    from companion.coaching.advice import for_run  # the drill sessions, read from their files

    advice = for_run(stats.episodes, stats.duration_s) if stats.form_held is not None else None
    return summary_text(stats, advice.spoken if advice else None, earlier, now)
