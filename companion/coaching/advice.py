"""Which drill session to do after a run, from the drift the run showed. Pure.

The fault that drifted longest decides; of the sessions that address it, the most
specific one (addressing fewest faults) is named, the one covering more of the run's
other faults if two are as specific. A run with no drift gets the daily routine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cues.drills import Session, bundled_sessions
from cues.faults import Fault

if TYPE_CHECKING:
    from companion.form.record import Episode

EVERYDAY = "daily-routine"


@dataclass(frozen=True)
class Drift:
    """What the advice needs of a drift episode: its fault and when."""

    fault: str  # a Fault value
    start: float
    end: float


@dataclass(frozen=True)
class Advice:
    session: Session
    text: str  # why, for `companion drills suggest`
    spoken: str  # short, for the end of the spoken summary (the drifts were just said)
    fault: str | None = None
    first_s: float | None = None


def drifts_in(events: Iterable[str]) -> list[Drift]:
    """The drifts of a run from its events as JSON lines (an events file, or `--json`
    output); ValueError for lines that are not a run's events."""
    drifts: dict[int, Drift] = {}
    for line in events:
        try:
            event = json.loads(line)
            if event.get("kind") in ("drift_start", "drift_end"):
                ep = event["episode"]
                drifts[ep["episode"]] = Drift(event["id"], ep["start"], ep["end"] or event["t"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a run's events ({err})") from None
    return list(drifts.values())


def advise(drifts: Iterable[Drift], sessions: Sequence[Session]) -> Advice | None:
    by_fault: dict[str, float] = {}
    first: dict[str, float] = {}
    for d in drifts:
        by_fault[d.fault] = by_fault.get(d.fault, 0.0) + max(0.0, d.end - d.start)
        first[d.fault] = min(first.get(d.fault, d.start), d.start)
    if not by_fault:
        everyday = next((s for s in sessions if s.id == EVERYDAY), None)
        if everyday is None:
            return None
        keep = f"Keep it up with the {everyday.title.lower()}."
        return Advice(everyday, f"No drift: {keep[0].lower()}{keep[1:]}", keep)
    fault = max(by_fault, key=lambda f: (by_fault[f], -first[f]))
    helping = [s for s in sessions if fault in s.info.addresses]
    if not helping:
        return None

    def rank(s: Session) -> tuple[int, int]:
        return (len(s.info.addresses), -len(set(s.info.addresses) & set(by_fault)))

    session = min(helping, key=rank)
    minute = int(first[fault] // 60)
    words = Fault(fault).description
    text = f"{words[0].upper()}{words[1:]} from minute {minute}: try {session.title.lower()}."
    return Advice(session, text, f"Try {session.title.lower()}.", fault, first[fault])


def for_run(episodes: Iterable[Episode], duration_s: float) -> Advice | None:
    """The bundled session for what a run's drift episodes showed."""
    drifts = [Drift(ep.fault.value, ep.start, ep.end or duration_s) for ep in episodes]
    return advise(drifts, list(bundled_sessions()))
