"""The commands that talk to a running daemon: status, start, stop, pause, resume, say."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from companion.control_socket import NoDaemon, request, socket_path


def cmd_control(args: argparse.Namespace, console: Console) -> int:
    fields: dict[str, Any] = {"text": " ".join(args.text)} if args.command == "say" else {}
    try:
        answer = request(socket_path(), args.command, **fields)
    except NoDaemon as err:
        print(f"companion: {err}", file=sys.stderr)
        return 3
    if not answer.pop("ok"):
        print(f"companion: the daemon says: {answer.get('error')}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer))
    else:
        for key, value in answer.items():
            console.print(f"{key}: {value}", highlight=False)
    return 0


def add_control_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, text in (
        ("status", "what the daemon is doing: run state, clock, sensors, metrics, last cue"),
        ("start", "start a run"),
        ("stop", "end the run (its data is kept)"),
        ("pause", "pause the run"),
        ("resume", "resume the run"),
        ("say", "say something in the runner's ears"),
    ):
        p = sub.add_parser(name, help=f"{text} (talks to `companion daemon`)")
        if name == "say":
            p.add_argument("text", nargs="+", help="what to say")
        p.add_argument("--json", action="store_true", help="the daemon's reply as JSON")
        p.set_defaults(handler=cmd_control)
