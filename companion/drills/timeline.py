"""A drill session as a timeline: every word and earcon at its second, worked out before
the first one is said. Pure: the caller gives how long each text takes to say.

The shape of every session:

- the title, its intro and the safety line;
- for each step: its name, level and instructions, then for each set and side a
  get-ready countdown, the work itself and, after it, a rest that says what is next;
- reps are counted aloud, one number at the start of each rep, at the step's tempo;
- holds and timed steps say "halfway", and count the last seconds down to zero (the
  end chime);
- form cues go where they fit between the counting, never over it;
- the end.

Nothing overlaps: each mark starts after the one before it has finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from companion.coaching.coach import estimate_duration
from cues.drills import Session, Step
from cues.earcons import earcon_seconds
from cues.words import counted

SAFETY = "If anything hurts, stop. Discomfort from a stretch is fine; pain is not."
GAP_S = 0.4  # quiet after each thing said
READY_S = 3  # the get-ready countdown: three ticks, then "go"
COUNTDOWN_S = 3  # the last seconds of a hold said aloud
SIDES = {"none": (None,), "both": ("left", "right")}

Kind = Literal["say", "earcon"]


@dataclass(frozen=True)
class Mark:
    t: float  # seconds from the start of the session
    kind: Kind
    what: str  # the words, or the earcon's name
    duration_s: float
    label: str  # what it is: intro, step, side, ready, count, cue, halfway, countdown, ...
    step: int  # the step it belongs to; -1 before the first, len(steps) for the end

    @property
    def end(self) -> float:
        return self.t + self.duration_s


@dataclass(frozen=True)
class Timeline:
    session: Session
    marks: tuple[Mark, ...]
    total_s: float
    step_starts: tuple[float, ...]  # where each step begins: for skip and back

    def step_at(self, t: float) -> int:
        """The step being done at `t` (-1 during the intro)."""
        current = -1
        for i, start in enumerate(self.step_starts):
            if start <= t:
                current = i
        return current


@dataclass
class _Builder:
    duration_of: Callable[[str], float]
    t: float = 0.0
    marks: list[Mark] = field(default_factory=list)
    step: int = -1

    def say(self, text: str, label: str) -> None:
        d = self.duration_of(text)
        self.marks.append(Mark(self.t, "say", text, d, label, self.step))
        self.t += d + GAP_S

    def chime(self, name: str, label: str) -> None:
        d = earcon_seconds(name)
        self.marks.append(Mark(self.t, "earcon", name, d, label, self.step))
        self.t += d

    def fits(self, at: float, text: str, before: float) -> bool:
        return max(at, self.t) + self.duration_of(text) + GAP_S <= before

    def wait_until(self, t: float) -> None:
        self.t = max(self.t, t)


def _ready(b: _Builder) -> None:
    """Three ticks a second apart, then "go" on the fourth second: work starts with it."""
    start = b.t
    for k in range(READY_S):
        b.wait_until(start + k)
        b.chime("tick", "ready")
    b.wait_until(start + READY_S)
    b.chime("go", "go")


def _work_reps(b: _Builder, step: Step) -> None:
    """A number at the start of each rep; every other rep, a cue in its quiet if it fits."""
    assert step.reps is not None
    start = b.t
    said = 0
    for rep in range(1, step.reps + 1):
        b.wait_until(start + (rep - 1) * step.tempo_s)
        b.say(str(rep), "count")
        if step.cues and rep % 2 == 0 and rep < step.reps:
            cue = step.cues[said % len(step.cues)]
            if b.fits(b.t, cue, start + rep * step.tempo_s):
                b.say(cue, "cue")
                said += 1
    b.wait_until(start + step.reps * step.tempo_s)


def _work_timed(b: _Builder, step: Step, seconds: float) -> None:
    """A hold or a timed step: cues spread through it, halfway, the last seconds counted."""
    start = b.t
    end = start + seconds
    countdown_from = end - COUNTDOWN_S
    halfway = start + seconds / 2
    plan: list[tuple[float, str, str]] = [(halfway, "Halfway.", "halfway")]
    if step.cues:
        # Cues evenly through the time, away from halfway and the countdown.
        slots = len(step.cues) + 1
        for k, cue in enumerate(step.cues, 1):
            plan.append((start + seconds * k / slots, cue, "cue"))
    for at, text, label in sorted(plan):
        if b.fits(at, text, countdown_from):
            b.wait_until(at)
            b.say(text, label)
    for k in range(COUNTDOWN_S, 0, -1):
        b.wait_until(end - k)
        b.say(str(k), "countdown")
    b.wait_until(end)
    b.chime("end", "zero")


def _next_up(steps: tuple[Step, ...], i: int, set_no: int, side: str | None) -> str:
    """What follows the work of step `i`, set `set_no`, side `side`."""
    step = steps[i]
    sides = SIDES[step.sides]
    if side is not None and side != sides[-1]:
        return f"Next up: {step.name}, right side."
    if set_no < step.sets:
        return f"Next up: {step.name}, set {set_no + 1} of {step.sets}."
    if i + 1 < len(steps):
        return f"Next up: {steps[i + 1].name}."
    return "Next up: the end of the session."


def _dose(step: Step) -> str:
    sets = f"{step.sets} sets of " if step.sets > 1 else ""
    if step.reps is not None:
        each = counted(step.reps, "rep")
    elif step.hold_s is not None:
        each = f"a {step.hold_s:.0f} second hold"
    else:
        each = counted(round(step.duration_s or 0.0), "second")
    sides = ", each side" if step.sides == "both" else ""
    text = f"{sets}{each}{sides}."
    return text[0].upper() + text[1:]


def build_timeline(
    session: Session, duration_of: Callable[[str], float] = estimate_duration
) -> Timeline:
    """The whole session, timed."""
    b = _Builder(duration_of)
    b.chime("start", "start")
    b.say(f"{session.title}.", "intro")
    if session.info.intro:
        b.say(session.info.intro, "intro")
    b.say(SAFETY, "safety")
    starts = []
    steps = session.steps
    for i, step in enumerate(steps):
        b.step = i
        starts.append(b.t)
        b.say(f"{step.name}. Level {step.level}. {_dose(step)}", "step")
        for text in step.instructions:
            b.say(text, "instruction")
        for set_no in range(1, step.sets + 1):
            for side in SIDES[step.sides]:
                if side == "right":
                    b.say("Switch sides. Right side.", "switch")
                elif side == "left":
                    b.say("Left side first.", "side")
                if step.sets > 1 and side != "right":
                    b.say(f"Set {set_no} of {step.sets}.", "set")
                _ready(b)
                if step.reps is not None:
                    _work_reps(b, step)
                else:
                    _work_timed(b, step, step.hold_s or step.duration_s or 0.0)
                last = set_no == step.sets and side == SIDES[step.sides][-1]
                if last and step.progression:
                    b.say(step.progression, "progression")
                if step.rest_s > 0 and not (last and i + 1 == len(steps)):
                    rest_end = b.t + step.rest_s
                    b.say(f"Rest. {_next_up(steps, i, set_no, side)}", "next")
                    b.wait_until(rest_end - COUNTDOWN_S)
                    for k in range(COUNTDOWN_S, 0, -1):
                        b.wait_until(rest_end - k)
                        b.chime("tick", "rest-countdown")
                    b.wait_until(rest_end)
                elif not (last and i + 1 == len(steps)):
                    b.say(_next_up(steps, i, set_no, side), "next")
    b.step = len(steps)
    b.say("That's the session. Well done.", "end")
    b.chime("end", "end")
    return Timeline(session, tuple(b.marks), b.t, tuple(starts))
