"""The cue catalogue and the drift rules a run coaches with: read from their files, each
checked on its own and both against each other, and the configuration that names them.

Light to import (no analysis): the daemon checks them while idle, when it starts and
when it reloads its configuration.
"""

from __future__ import annotations

from pathlib import Path

from companion.config import Config, ConfigError, load_config
from companion.form.rules import DriftRule, load_rules
from companion.paths import config_path
from cues.catalogue import Catalogue, load_catalogue
from cues.datafile import DataFileError, line_of


class ConfigurationError(ValueError):
    """Rules and catalogue that do not fit together."""


def check_fit(catalogue: Catalogue, rules: tuple[DriftRule, ...]) -> None:
    """Every fault a rule can raise has a cue that answers it; `ConfigurationError` if not."""
    missing = {f for r in rules for f in r.faults.values()} - {
        a for cue in catalogue for a in cue.answers
    }
    if missing:
        faults = ", ".join(sorted(missing))
        which = "fault" if len(missing) == 1 else "faults"
        raise ConfigurationError(
            f"no cue in {catalogue.source} answers the {which} {faults}, "
            "which the drift rules can raise"
        )


def load_coaching(
    cues: Path | None = None, rules: Path | None = None
) -> tuple[Catalogue, tuple[DriftRule, ...]]:
    """The catalogue and rules in these files (the bundled ones for None), checked."""
    catalogue, drift_rules = load_catalogue(cues), load_rules(rules)
    check_fit(catalogue, drift_rules)
    return catalogue, drift_rules


def load_config_checked(path: Path | None = None) -> Config:
    """The configuration (`load_config`) with the catalogue and rules it names loaded and
    checked too: what `companion config check` checks, and what the daemon starts and
    reloads with, so that a file named there that cannot be used is found before a run."""
    path = path or config_path()
    config = load_config(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""

    def named_by(field: str, err: DataFileError) -> ConfigError:
        # Where the problem starts for the runner: the setting that names the file.
        line = line_of(text, ("coach", field))
        where = f"line {line}, " if line else ""
        return ConfigError(f"{path}: {where}field coach.{field} names a file: {err}")

    try:  # each file on its own ...
        catalogue = load_catalogue(config.coach.cues)
    except DataFileError as err:
        raise named_by("cues", err) from None
    try:
        rules = load_rules(config.coach.rules)
    except DataFileError as err:
        raise named_by("rules", err) from None
    check_fit(catalogue, rules)  # ... and the two together
    return config
