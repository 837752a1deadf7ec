"""Plain English for what is printed and said: counted things, and what a schema found wrong.

A runner or a coach reads these words, so no library phrasing ("Input should be a valid
dictionary or instance of SpeechConfig") and no "1 seconds" reach them.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """ "1 cue", "2 cues", "0 cues", "1.5 seconds"; `plural` where it is not noun + s."""
    number = f"{n:g}" if isinstance(n, float) else str(n)
    return f"{number} {noun if n == 1 else plural or noun + 's'}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models inside a field's type: `X`, `X | None`, `tuple[X, ...]`, `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, tuple, list, dict):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def model_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model whose field `loc` names, walking down from `model` (indices skipped)."""
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        found = _models(field.annotation) if field is not None else []
        model = found[0] if found else None
    return model


# What each kind of schema error means, by pydantic's error type. Numbers come from the
# error's context: {ge} is the least a setting may be, and so on.
_WORDS = {
    "missing": "is missing",
    "string_type": "must be text, in quotes",
    "string_sub_type": "must be text, in quotes",
    "string_unicode": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_parsing_size": "must be a smaller whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number (not nan or inf)",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "union_tag_invalid": "must be {expected_tags}",
    "union_tag_not_found": "needs '{discriminator}'",
    "list_type": "must be a list, in [brackets]",
    "tuple_type": "must be a list, in [brackets]",
    "set_type": "must be a list, in [brackets]",
    "frozen_set_type": "must be a list, in [brackets]",
    "iterable_type": "must be a list, in [brackets]",
    "path_type": "must be a file's path, in quotes",
    "string_pattern_mismatch": "is not in the form this takes ({pattern})",
    "dict_type": "must be a table",
    "mapping_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dataclass_type": "must be a table",
    "none_required": "must be left out",
    "frozen_field": "cannot be changed",
    "frozen_instance": "cannot be changed",
    "date_type": "must be a date",
    "datetime_type": "must be a date and time",
    "time_type": "must be a time of day",
}
# Counted limits: "must be at least 1 character", "must have at most 3 items".
_COUNTED = {
    "string_too_short": ("must be at least", "min_length", "character"),
    "string_too_long": ("must be at most", "max_length", "character"),
    "too_short": ("must have at least", "min_length", "item"),
    "too_long": ("must have at most", "max_length", "item"),
}


# Every kind of error said in our own words (the rest get pydantic's, reworded).
KINDS = (
    frozenset(_WORDS) | frozenset(_COUNTED) | {"extra_forbidden", "value_error", "assertion_error"}
)


def plain(error: ErrorDetails, model: type[BaseModel] | None = None, noun: str = "field") -> str:
    """What `error` (one of a pydantic ValidationError's) says, in plain words. With the
    `model` validated, an unknown key lists the keys its place takes; `noun` is what a key
    is called there ("setting" in the configuration, "field" in a data file)."""
    kind, ctx, loc = error["type"], error.get("ctx") or {}, tuple(error["loc"])
    if kind == "extra_forbidden":
        owner = model_at(model, loc[:-1])
        if owner is None:
            return f"unknown {noun}"
        fields = owner.model_fields
        if all(_models(f.annotation) for f in fields.values()):  # a file of sections
            takes = ", ".join(f"[{name}]" for name in fields)
            return f"unknown section {str(loc[-1])!r} (the file takes: {takes})"
        return f"unknown {noun} {str(loc[-1])!r} (it takes: {', '.join(fields)})"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind in _COUNTED:
        bound, key, thing = _COUNTED[kind]
        return f"{bound} {counted(ctx.get(key, 0), thing)}"
    if kind in ("model_type", "model_attributes_type") and noun == "setting":
        return "must be a section of settings ([name] with key = value lines)"
    words = _WORDS.get(kind)
    if words is None:  # a kind not met yet: pydantic's own words, made to read as ours
        return error["msg"].replace("Input should be", "must be").replace("Value error, ", "")
    return words.format(**{k: _number(v) for k, v in ctx.items()})


def field_name(loc: Sequence[str | int]) -> str:
    """Where in a file a value is, as a coach counts: ("answers", 0) is "answers, item 1"."""
    names = ".".join(str(p) for p in loc if isinstance(p, str))
    items = "".join(f", item {p + 1}" for p in loc if isinstance(p, int))
    return names + items
