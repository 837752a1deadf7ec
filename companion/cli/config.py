"""The config commands: where the configuration file is, what is in effect, and a check."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from companion.config import as_toml, load_config
from companion.paths import config_path


def cmd_config_path(args: argparse.Namespace, console: Console) -> int:
    path = config_path()
    print(path)
    if not path.exists():
        console.print("[dim](not there yet: every setting has its default)", highlight=False)
    return 0


def cmd_config_show(args: argparse.Namespace, console: Console) -> int:
    path = args.file or config_path()
    config = load_config(path)
    source = str(path) if path.exists() else f"defaults ({path} is not there)"
    print(f"# In effect, from {source}\n")
    print(as_toml(config), end="")
    return 0


def cmd_config_check(args: argparse.Namespace, console: Console) -> int:
    from companion.coaching.files import load_config_checked

    path = args.file or config_path()
    # A broken file, or a catalogue or rules file it names that cannot be used, raises:
    # reported by main with exit status 2.
    config = load_config_checked(path)
    print(f"{path}: fine" if path.exists() else f"{path}: not there; the defaults are in effect")
    for what, named in (("cue catalogue", config.coach.cues), ("drift rules", config.coach.rules)):
        if named is not None:
            print(f"  {what}: {named}: fine")
    return 0


def add_config_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="the configuration file: where, what, and a check")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    p = config_sub.add_parser("path", help="where the configuration file is read from")
    p.set_defaults(handler=cmd_config_path)
    for name, handler, text in (
        ("show", cmd_config_show, "the settings in effect, as TOML"),
        ("check", cmd_config_check, "check a configuration file (the runner's by default)"),
    ):
        p = config_sub.add_parser(name, help=text)
        p.add_argument("file", nargs="?", type=Path, help="a file (default: the runner's)")
        p.set_defaults(handler=handler)
