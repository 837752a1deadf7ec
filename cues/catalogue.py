"""The cue catalogue: what the coach can say, as data, checked when it is loaded.

A broken file is refused with its path, the cue id (or its position), the line and the
field at fault, so a coach editing the texts sees exactly what to fix; so is a catalogue
without a cue the product says by its id.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from cues.datafile import DataFileError, Id, line_of, load_entries, read_toml
from cues.faults import Fault

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.toml")
# The cues the product says by their id (the run engine, the in-run schedule and the
# daemon's drill reminders), each with the placeholders filled in when it is said: the
# sensor's spoken name, the numbers of a split or a heart-rate announcement (in words, see
# companion/coaching/spoken.py), and a drill session's title. Any other cue is given none.
SAID: dict[str, frozenset[str]] = {
    "warmup": frozenset(),
    "baseline-set": frozenset(),
    "sensor-connected": frozenset({"sensor"}),
    "no-sensor": frozenset(),
    "sensor-lost": frozenset({"sensor"}),
    "sensor-back": frozenset({"sensor"}),
    "battery-low": frozenset({"sensor"}),
    "run-paused": frozenset(),
    "run-resumed": frozenset(),
    "checkin": frozenset(),
    "split": frozenset({"distance", "time", "pace"}),
    "split-time": frozenset({"time", "cadence"}),
    "heart-rate": frozenset({"bpm"}),
    "drill-reminder": frozenset({"session"}),
}
PLACEHOLDERS = frozenset().union(*SAID.values())
# A typical value of each, for trying a wording out (`companion cues say`) and for tests.
EXAMPLES = {
    "sensor": "Chest strap",
    "time": "25 minutes",
    "distance": "5.2 kilometres",
    "pace": "5 12 a kilometre",
    "cadence": "172",
    "bpm": "158",
    "session": "hip mobility and strength",
}


class Category(StrEnum):
    FORM = "form"
    CONFIRMATION = "confirmation"
    ANNOUNCEMENT = "announcement"
    SYSTEM = "system"
    DRILL = "drill"


class Cue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: Id
    category: Category
    priority: int = Field(ge=0, le=100)
    cooldown_s: float = Field(ge=0)
    answers: tuple[Fault, ...] = ()
    say: tuple[str, ...] = Field(min_length=1)
    escalate: tuple[str, ...] = ()

    @field_validator("say", "escalate")
    @classmethod
    def _wordings(cls, texts: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Short, and with only the placeholders this cue is given when said."""
        cue_id = info.data.get("id")
        given = SAID.get(cue_id, frozenset()) if isinstance(cue_id, str) else PLACEHOLDERS
        for text in texts:
            if not text.strip() or len(text) > 80:
                raise ValueError(f"wording {text!r} must be 1 to 80 characters")
            try:
                fields = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
            except ValueError:
                raise ValueError(
                    f"wording {text!r} has a {{ or }} that is not a placeholder "
                    "(write {{ or }} for the sign itself)"
                ) from None
            if fields - given:
                unknown = ", ".join(f"{{{name}}}" for name in sorted(fields - given))
                offered = ", ".join(f"{{{name}}}" for name in sorted(given)) or "none"
                raise ValueError(
                    f"wording {text!r} uses {unknown}, which cue {cue_id!r} is not given "
                    f"(its placeholders: {offered})"
                )
        return texts

    @model_validator(mode="after")
    def _form_cues_answer_something(self) -> Cue:
        if self.category is Category.FORM:
            if not self.answers:
                raise ValueError("a form cue must list the faults it answers in 'answers'")
            if not self.escalate:
                raise ValueError("a form cue needs 'escalate' wordings for when it did not help")
            if set(self.escalate) & set(self.say):
                raise ValueError("'escalate' wordings must differ from the 'say' wordings")
        elif self.answers or self.escalate:
            raise ValueError("only form cues have 'answers' and 'escalate'")
        return self


class CatalogueError(DataFileError):
    """A cue file that cannot be used, with where and what."""


@dataclass(frozen=True)
class Catalogue:
    cues: dict[str, Cue]
    source: Path

    def __getitem__(self, cue_id: str) -> Cue:
        return self.cues[cue_id]

    def __iter__(self) -> Iterator[Cue]:
        return iter(self.cues.values())

    def for_fault(self, fault: str) -> Cue | None:
        """The form cue that answers `fault`, the highest priority one if several do."""
        matching = [c for c in self if fault in c.answers]
        return max(matching, key=lambda c: c.priority, default=None)

    def texts(self, fills: Mapping[str, Iterable[str]] | None = None) -> list[str]:
        """Every wording, for rendering them all before a run starts; a wording with a
        placeholder comes once for each of its `fills` (and not at all without them)."""
        out = []
        for cue in self:
            for text in cue.say + cue.escalate:
                names = [n for _, n, _, _ in Formatter().parse(text) if n]
                if not names:
                    out.append(text)
                elif fills and all(n in fills for n in names):
                    combos = itertools.product(*(list(fills[n]) for n in names))
                    out += [text.format(**dict(zip(names, c, strict=True))) for c in combos]
        return out


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read and check a catalogue file (the bundled one by default)."""
    path = Path(path) if path is not None else DEFAULT_CATALOGUE
    cues: dict[str, Cue] = {}
    for i, cue in enumerate(load_entries(path, "cue", Cue, CatalogueError)):
        if cue.id in cues:
            line = line_of(read_toml(path, CatalogueError)[0], ("cue", i, "id"))
            where = f" at line {line}" if line else ""
            raise CatalogueError(f"{path}: cue {cue.id}{where}: the id is used twice")
        cues[cue.id] = cue
    missing = [cue_id for cue_id in SAID if cue_id not in cues]
    if missing:
        raise CatalogueError(
            f"{path}: the coach says these cues by id and they are missing: "
            f"{', '.join(missing)} (the bundled {DEFAULT_CATALOGUE.name} has them to copy)"
        )
    if not any(c.category is Category.CONFIRMATION for c in cues.values()):
        raise CatalogueError(
            f"{path}: no confirmation cue: the coach says one when a drift ends after a "
            'form cue (category = "confirmation")'
        )
    return Catalogue(cues, path)
