"""Guided drill sessions as data: what the voice leads the runner through at home.

A session file has one ``[session]`` table and its ``[[step]]`` entries, in order:

    [session]
    id = "hip-mobility"            # how `companion drills play` names it
    title = "Hip mobility and strength"
    about = "One line for the list."
    intro = "Said first, after the title."
    addresses = ["anterior_tilt"]  # drift faults it helps with, for the recommendation

    [[step]]
    name = "Two-leg bridge"
    instructions = ["Lie on your back, knees bent.", "Lift your hips by squeezing..."]
    reps = 10                      # counted aloud; or hold_s (a countdown), or duration_s
    tempo_s = 4                    # seconds per rep
    sets = 2
    sides = "both"                 # "both": left, then right; "none"
    rest_s = 30                    # after each set or side, before what comes next
    cues = ["Ribs down.", "Squeeze at the top."]   # said during it, where they fit
    level = 1                      # progression: 1 easy ... 5 hard
    progression = "Easy? March at the top next time."

A broken file is refused with its path, the step (its name or position), the line and
the field. Runners may write their own files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cues.datafile import DataFileError, Id, line_of, problems, read_toml
from cues.faults import Fault

BUNDLED = Path(__file__).with_name("drills")
SAY_MAX = 160  # characters in one instruction or cue: a breath or two


class DrillError(DataFileError):
    """A drill session file that cannot be used, with where and what."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Step(_Entry):
    name: str = Field(min_length=1, max_length=60)
    instructions: tuple[str, ...] = Field(min_length=1)
    reps: int | None = Field(default=None, ge=1, le=50)
    tempo_s: float = Field(default=3.0, ge=1.5, le=15.0)
    hold_s: float | None = Field(default=None, ge=5.0, le=180.0)
    duration_s: float | None = Field(default=None, ge=10.0, le=900.0)
    sets: int = Field(default=1, ge=1, le=6)
    sides: Literal["none", "both"] = "none"
    rest_s: float = Field(default=0.0, ge=0.0, le=180.0)
    cues: tuple[str, ...] = ()
    level: int = Field(default=1, ge=1, le=5)
    progression: str | None = Field(default=None, min_length=1, max_length=SAY_MAX)

    @model_validator(mode="after")
    def _one_dose(self) -> Step:
        doses = [d for d in (self.reps, self.hold_s, self.duration_s) if d is not None]
        if len(doses) != 1:
            raise ValueError("give exactly one of reps, hold_s and duration_s")
        for text in (*self.instructions, *self.cues):
            if not text.strip() or len(text) > SAY_MAX:
                raise ValueError(f"{text!r} must be 1 to {SAY_MAX} characters")
        return self

    @property
    def kind(self) -> Literal["reps", "hold", "timed"]:
        if self.reps is not None:
            return "reps"
        return "hold" if self.hold_s is not None else "timed"


class SessionInfo(_Entry):
    id: Id
    title: str = Field(min_length=1, max_length=60)
    about: str = Field(min_length=1, max_length=120)
    intro: str | None = Field(default=None, min_length=1, max_length=SAY_MAX)
    addresses: tuple[Fault, ...] = ()


@dataclass(frozen=True)
class Session:
    info: SessionInfo
    steps: tuple[Step, ...]
    source: Path

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def title(self) -> str:
        return self.info.title


def load_session(path: Path | str) -> Session:
    """Read and check one session file."""
    path = Path(path)
    text, data = read_toml(path, DrillError)
    unknown = set(data) - {"session", "step"}
    if unknown:
        name = sorted(unknown)[0]
        line = line_of(text, (name,))
        where = f" at line {line}" if line else ""
        raise DrillError(f"{path}: {name!r}{where} is not part of a session (session, step)")
    if not isinstance(data.get("session"), dict):
        raise DrillError(f"{path}: no [session] table (id, title, about)")
    try:
        info = SessionInfo.model_validate(data["session"])
    except ValidationError as err:
        raise DrillError(
            f"{path}: session: {problems(err, text, ('session',), SessionInfo)}"
        ) from None
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DrillError(f"{path}: no [[step]] entries")
    steps = []
    for i, raw in enumerate(raw_steps):
        try:
            steps.append(Step.model_validate(raw))
        except ValidationError as err:
            label = raw.get("name") if isinstance(raw, dict) else None
            which = repr(label) if isinstance(label, str) else f"#{i + 1}"
            raise DrillError(
                f"{path}: step {which}: {problems(err, text, ('step', i), Step)}"
            ) from None
    return Session(info, tuple(steps), path)


def bundled_sessions() -> Iterator[Session]:
    """The sessions that come with the product, in a stable order."""
    for path in sorted(BUNDLED.glob("*.toml")):
        yield load_session(path)


def find_session(name: str, folders: tuple[Path, ...] = ()) -> Session:
    """A session by id (the runner's own folders first, then the bundled ones) or by path."""
    as_path = Path(name)
    if as_path.suffix == ".toml" and as_path.exists():
        return load_session(as_path)
    for folder in (*folders, BUNDLED):
        for path in sorted(folder.glob("*.toml")):
            session = load_session(path)
            if session.id == name:
                return session
    known = ", ".join(s.id for s in bundled_sessions())
    raise DrillError(f"no drill session {name!r} (there are: {known})")
