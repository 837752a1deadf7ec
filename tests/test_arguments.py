"""Numbers on the command line: checked by the configuration's own rules, in its words."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.cli.arguments import Checked
from companion.cli.main import build_parser
from companion.config import Config, ConfigError, load_config
from tests.conftest import OUTDOOR
from tests.test_cli import companion


def options(
    parser: argparse.ArgumentParser, path: str = "companion"
) -> Iterator[tuple[str, argparse.Action]]:
    """(command, action) of every option of every command, subcommands' too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from options(sub, f"{path} {name}")
        else:
            yield path, action


OPTIONS = list(options(build_parser()))
NUMERIC = [(cmd, a) for cmd, a in OPTIONS if isinstance(a.type, Checked)]
SECTIONS = {type(model): name for name, model in Config()}


def test_every_number_on_the_command_line_is_checked() -> None:
    plain = [f"{cmd} {a.option_strings}" for cmd, a in OPTIONS if a.type in (int, float)]
    assert plain == []  # argparse's own int and float take nan, inf and any size
    assert {a.dest for _, a in NUMERIC} >= {
        "speed", "warmup", "learn", "metronome", "voice_rate", "voice_volume", "pre_roll",
        "duck", "minutes", "rate", "limit", "seconds", "port", "start", "battery", "trial",
    }  # fmt: skip


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "1e999", "x", "", "1,5"])
def test_nothing_that_is_not_a_finite_number_is_taken(text: str) -> None:
    for cmd, action in NUMERIC:
        assert isinstance(action.type, Checked)
        with pytest.raises(argparse.ArgumentTypeError, match=f", not '{text}'$"):
            action.type(text)
        assert action.default is None or action.type(str(action.default)) == action.default, cmd


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "1.5", "1e9", "-1e9", '"x"'])
def test_an_option_and_its_setting_refuse_the_same_values_in_the_same_words(
    tmp_path: Path, value: str
) -> None:
    file = tmp_path / "config.toml"
    for cmd, action in NUMERIC:
        assert isinstance(action.type, Checked)
        if action.type.field is None or action.type.field[0] not in SECTIONS:
            continue
        model, name = action.type.field
        file.write_text(f"[{SECTIONS[model]}]\n{name} = {value}\n")
        try:
            taken = getattr(getattr(load_config(file), SECTIONS[model]), name)
        except ConfigError as err:
            words = str(err).split(f"field {SECTIONS[model]}.{name}: ")[1]
            with pytest.raises(argparse.ArgumentTypeError) as caught:
                action.type(value.strip('"'))
            assert str(caught.value) == f"{words}, not '{value.strip(chr(34))}'", (cmd, action.dest)
        else:
            assert action.type(value) == taken, (cmd, action.dest)


FINITE = "must be a finite number (not nan or inf)"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["analyze", str(OUTDOOR), "--warmup", "-5"], "--warmup: must be at least 0, not '-5'"),
        (["analyze", str(OUTDOOR), "--learn", "0"], "--learn: must be more than 0, not '0'"),
        (["analyze", str(OUTDOOR), "--warmup", "nan"], f"--warmup: {FINITE}, not 'nan'"),
        (["demo", "--speed", "inf"], f"--speed: {FINITE}, not 'inf'"),
        (["run", "--minutes", "0"], "--minutes: must be more than 0, not '0'"),
        (["simulate", "--dropout", "5:-1"], "--dropout: AT:FOR in seconds '5:-1': must be more "
         "than 0, not '-1'"),
        (["history", "--limit", "0"], "--limit: must be at least 1, not '0'"),
        (["cues", "say", "warmup", "--voice-rate", "1000"], "--voice-rate: must be at most 400, "
         "not '1000'"),
    ],
)  # fmt: skip
def test_the_command_refuses_them_in_one_line(args: list[str], problem: str) -> None:
    done = companion(*args)
    assert done.returncode == 2
    command = " ".join(args[:2]) if args[0] == "cues" else args[0]
    assert done.stderr == (
        f"companion: {command}: argument {problem} (`companion {command} --help` says what it "
        "takes)\n"
    )
