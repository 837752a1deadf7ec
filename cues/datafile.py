"""Data files a coach edits (TOML), read and checked entry by entry.

A mistake is refused with the file, the entry (its id, or its position) and the field, so
whoever edits cue texts, drift thresholds or drill scripts sees exactly what to fix.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

from cues.words import field_name, plain


class DataFileError(ValueError):
    """A data file that cannot be used, with where and what."""


M = TypeVar("M", bound=BaseModel)


def _id(text: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", text):
        raise ValueError(
            f"{text!r} is not an id: lowercase letters, digits and dashes, starting with a "
            "letter, such as 'ribs-down'"
        )
    return text


Id = Annotated[str, AfterValidator(_id)]  # how an entry is named: cue and session ids


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of a TOML file's `text` where the value at `loc` is written:
    ("sound", "rate") for a key of the table [sound], ("step", 2, "reps") for a key of the
    third [[step]], ("step", 2) for that header itself, ("name",) for a key at the top."""
    wanted = [str(part) for part in loc]
    where: list[str] = []  # the table (and, for [[arrays]], its index) lines now belong to
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]", line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                where = [name, str(counts[name])]
            else:
                where = [name]
            if wanted in (where, [name]):  # the table, or the first of an array of them
                return number
            continue
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if key and wanted[: len(where) + 1] == [*where, key.group(1)]:
            return number
    return None


def read_toml(path: Path, error: type[DataFileError]) -> tuple[str, dict[str, Any]]:
    """The text of the TOML file at `path` and its data; `error` saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except OSError as err:
        raise error(f"{path}: cannot read the file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text (at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML: {err}") from None


def problems(
    err: ValidationError, text: str, loc: Sequence[str | int], model: type[BaseModel]
) -> str:
    """What the schema (`model`) found wrong in the entry at `loc` of the file's `text`, in
    plain words, with lines."""
    out = []
    for e in err.errors():
        field = field_name(e["loc"])
        line = line_of(text, (*loc, *e["loc"])) or line_of(text, loc)
        where = " ".join(
            part
            for part in (f"field {field!r}" if field else "", f"at line {line}" if line else "")
            if part
        )
        out.append(f"{where}: {plain(e, model)}" if where else plain(e, model))
    return "; ".join(out)


def load_entries(
    path: Path, table: str, model: type[M], error: type[DataFileError] = DataFileError
) -> list[M]:
    """The ``[[table]]`` entries of the TOML file at `path`, each checked as `model`."""
    text, data = read_toml(path, error)
    entries = data.get(table)
    if not isinstance(entries, list) or not entries:
        raise error(f"{path}: no [[{table}]] entries")
    checked = []
    for i, raw in enumerate(entries):
        try:
            checked.append(model.model_validate(raw))
        except ValidationError as err:
            ident = raw.get("id") if isinstance(raw, dict) else None
            name = ident if isinstance(ident, str) else f"#{i + 1}"
            raise error(
                f"{path}: {table} {name}: {problems(err, text, (table, i), model)}"
            ) from None
    return checked
