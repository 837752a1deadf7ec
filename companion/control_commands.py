"""The commands that talk to a running daemon: status, start, stop, pause, resume, say."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from companion.arguments import setting
from companion.control import Start
from companion.control_socket import NoDaemon, request, socket_path


def show_status(answer: dict[str, Any], console: Console) -> None:
    """The daemon's answer as a short table a runner reads at a glance."""
    table = Table(show_header=False, box=None)
    for key, value in answer.items():
        if isinstance(value, dict):
            if not value:
                continue
            if all(isinstance(v, dict) for v in value.values()):  # sensors by name
                text = "\n".join(
                    f"{name}: " + ", ".join(f"{k} {v}" for k, v in info.items())
                    for name, info in value.items()
                )
            else:
                text = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value) or "none"
        elif value is None:
            continue
        else:
            text = str(value)
        table.add_row(key.replace("_", " "), text)
    console.print(table)


def cmd_control(args: argparse.Namespace, console: Console) -> int:
    fields: dict[str, Any] = {}
    if args.command == "say":
        fields["text"] = " ".join(args.text)
    if args.command == "start" and args.replay is not None:
        fields["replay"] = str(args.replay.resolve())  # the daemon has its own folder
        fields["speed"] = args.speed
    try:
        answer = request(socket_path(), args.command, timeout=30.0, **fields)
    except NoDaemon as err:
        print(f"companion: {err}", file=sys.stderr)
        return 3
    except TimeoutError:
        print("companion: the daemon did not answer within 30 s", file=sys.stderr)
        return 3
    if not answer.pop("ok"):
        print(f"companion: the daemon says: {answer.get('error')}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer))
    else:
        show_status(answer, console)
    return 0


def add_control_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, text in (
        ("status", "what the daemon is doing: run state, clock, sensors, metrics, last cue"),
        ("start", "start a run with the paired sensors (or --replay a recording)"),
        ("stop", "end the run (its data is kept) and hear its summary, or the drill session"),
        ("pause", "pause the run, or the drill session"),
        ("resume", "resume the run, or the drill session"),
        ("say", "say something in the runner's ears"),
        ("skip", "skip to the next step of the drill session playing"),
        ("back", "back to the start of the step (or the one before, if just begun)"),
        ("repeat", "the current step of the drill session again"),
    ):
        p = sub.add_parser(name, help=f"{text} (talks to `companion daemon`)")
        if name == "say":
            p.add_argument("text", nargs="+", help="what to say")
        if name == "start":
            p.add_argument(
                "--replay", type=Path, metavar="FILE", help="coach a recording or a raw log"
            )
            p.add_argument(
                "--speed",
                type=setting(Start, "speed"),
                default=1.0,
                help="with --replay: run seconds per second (default 1; 0 = as fast as it goes)",
            )
        p.add_argument("--json", action="store_true", help="the daemon's reply as JSON")
        p.set_defaults(handler=cmd_control)
