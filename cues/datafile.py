"""Data files a coach edits (TOML), read and checked entry by entry.

A mistake is refused with the file, the entry (its id, or its position) and the field, so
whoever edits cue texts, drift thresholds or drill scripts sees exactly what to fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError


class DataFileError(ValueError):
    """A data file that cannot be used, with where and what."""


M = TypeVar("M", bound=BaseModel)


def load_entries(
    path: Path, table: str, model: type[M], error: type[DataFileError] = DataFileError
) -> list[M]:
    """The ``[[table]]`` entries of the TOML file at `path`, each checked as `model`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise error(f"{path}: cannot read the file: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path}: not valid TOML: {err}") from None
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
            fields = "; ".join(
                f"field {'.'.join(map(str, e['loc'])) or table!r}: {e['msg']}" for e in err.errors()
            )
            raise error(f"{path}: {table} {name}: {fields}") from None
    return checked
