"""`companion export RUN --fit FILE --csv FILE --json FILE`: a kept run written for other
programs, each file by the output rule (companion/outputs.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from companion.cli.arguments import add_force_option
from companion.history.export import ExportError, RunDetail, csv_text, json_text, no_seconds
from companion.history.runs import open_history
from companion.outputs import vet_files, write_file


def _fit(detail: RunDetail) -> bytes:
    from companion.history.fit import fit_bytes  # the FIT SDK, only when asked for

    return fit_bytes(detail.run, detail.seconds)


FORMATS: dict[str, tuple[str, Callable[[RunDetail], bytes]]] = {
    "fit": ("FIT activity", _fit),
    "csv": ("CSV, one row a second", lambda d: csv_text(d.run, d.seconds).encode()),
    "json": ("JSON", lambda d: json_text(d).encode()),
}


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    wanted = [(fmt, path) for fmt in FORMATS if (path := getattr(args, fmt)) is not None]
    if not wanted:
        raise ExportError("say which file to write: --fit FILE, --csv FILE or --json FILE")
    with open_history() as history:
        run = history.run(args.run)
        # Before reading the run, which takes a while; the question too (the history is
        # only read: nothing waits for the answer).
        targets = vet_files([path for _, path in wanted], args.force)
        detail = RunDetail.read(history, run)
    if not detail.seconds:
        raise ExportError(no_seconds(run))
    if run.state == "recording":
        console.print(f"Run {run.id} is still being recorded: exported as far as it has gone.")
    for (fmt, path), target in zip(wanted, targets, strict=True):
        what, render = FORMATS[fmt]
        write_file(target, render(detail))
        console.print(f"Run {run.id} ({run.name}) written to {path} ({what})")
    return 0


def add_export_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="a kept run as a FIT activity (Garmin Connect, Strava, GoldenCheetah), "
        "a CSV of its seconds, or JSON of all of it",
        description="Write a kept run for other programs: --fit for a FIT activity file "
        "(one record a second, a lap a kilometre when a footpod measured distance), --csv for "
        "a table of its seconds and every metric, --json for everything the history keeps of "
        "it. Several at once if you like. The files are readable by you alone; an existing file is "
        "replaced only when you say so.",
    )
    p.add_argument(
        "run", nargs="?", help="a run's number or name from `companion history` (default: the last)"
    )
    p.add_argument("--fit", type=Path, metavar="FILE", help="a FIT activity file")
    p.add_argument("--csv", type=Path, metavar="FILE", help="a CSV file, one row per second")
    p.add_argument("--json", type=Path, metavar="FILE", help="a JSON file of the whole run")
    add_force_option(p)
    p.set_defaults(handler=cmd_export)
