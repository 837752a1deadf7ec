"""The cue catalogue: what the coach can say, as data, checked when it is loaded.

A broken file is refused with its path, the cue id (or its position) and the field at
fault, so a coach editing the texts sees exactly what to fix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from string import Formatter

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cues.datafile import DataFileError, load_entries

DEFAULT_CATALOGUE = Path(__file__).with_name("catalogue.toml")
# Filled in when said: the sensor's spoken name, the numbers of a split or a heart-rate
# announcement (in words, see companion/spoken.py), and a drill session's title.
PLACEHOLDERS = {"sensor", "time", "distance", "pace", "cadence", "bpm", "session"}
# A typical value of each, for trying a wording out (`companion cues say`) and for tests.
EXAMPLES = {
    "sensor": "Chest sensor",
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
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    category: Category
    priority: int = Field(ge=0, le=100)
    cooldown_s: float = Field(ge=0)
    answers: tuple[str, ...] = ()
    say: tuple[str, ...] = Field(min_length=1)
    escalate: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _form_cues_answer_something(self) -> Cue:
        for text in self.say + self.escalate:
            if not text.strip() or len(text) > 80:
                raise ValueError(f"wording {text!r} must be 1 to 80 characters")
            try:
                fields = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
            except ValueError as err:
                raise ValueError(f"wording {text!r}: {err}") from None
            if fields - PLACEHOLDERS:
                raise ValueError(
                    f"wording {text!r} uses {', '.join(sorted(fields - PLACEHOLDERS))}; "
                    f"the placeholders are {', '.join(sorted(PLACEHOLDERS))}"
                )
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
    for cue in load_entries(path, "cue", Cue, CatalogueError):
        if cue.id in cues:
            raise CatalogueError(f"{path}: cue {cue.id}: the id is used twice")
        cues[cue.id] = cue
    return Catalogue(cues, path)
