"""Numbers on the command line, checked by the configuration's own rules, in its words.

An option that sets what a setting of the configuration sets (`--warmup` and `[coach]
warmup_s`) takes its type and limits from that setting's field, so the limits live in one
place and a value out of them is refused with the words `companion config check` uses.
Options with no setting behind them get their limits here. NaN and infinities are never
numbers a runner means. `--force`, which every command writing a file the runner names
takes (companion/outputs.py), is here too.
"""

from __future__ import annotations

import argparse
import contextlib
import tomllib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cues.words import plain

_FINITE = ConfigDict(allow_inf_nan=False)


def _as_in_a_file(text: str) -> Any:
    """The value `text` would be in the configuration file (1.5, 1e9, nan, 1_000), so that
    the option and the setting take and refuse the same; text where it is none."""
    if "\n" not in text:
        with contextlib.suppress(tomllib.TOMLDecodeError):
            return tomllib.loads(f"value = {text}")["value"]
    return text


class Checked:
    """An argparse `type=`: the text of an option's value, checked and converted."""

    def __init__(
        self, adapter: TypeAdapter[Any], name: str, field: tuple[type[BaseModel], str] | None
    ):
        self._adapter = adapter
        self.__name__ = name  # argparse names the type with it in some messages
        self.field = field  # the model and field whose rules these are, if any

    def __call__(self, text: str) -> Any:
        try:
            return self._adapter.validate_python(_as_in_a_file(text))
        except ValidationError as err:
            raise argparse.ArgumentTypeError(
                "; ".join(plain(e) for e in err.errors()) + f", not {text!r}"
            ) from None


def setting(model: type[BaseModel], name: str) -> Checked:
    """Values as the field `name` of `model` (a section of the configuration, a request of
    the control protocol) takes them."""
    field = model.model_fields[name]
    form: Any = Annotated[field.annotation, field]  # its type, limits and all
    return Checked(TypeAdapter(form, config=_FINITE), name, (model, name))


def number(
    kind: type[int] | type[float],
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Checked:
    """Whole numbers (`int`) or numbers (`float`) within these limits."""
    form: Any = Annotated[kind, Field(ge=ge, gt=gt, le=le)]
    return Checked(TypeAdapter(form, config=_FINITE), kind.__name__, None)


# Limits of options no setting stands behind.
SECONDS_TO_LISTEN = number(float, gt=0, le=600)  # a Bluetooth scan, or looking for a sensor
RUN_MINUTES = number(float, gt=0, le=24 * 60)


def add_force_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace an existing file without asking")
