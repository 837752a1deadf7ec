"""`companion report RUN --out FILE`: one kept run on a page, as a PNG figure or one HTML
file, written by the output rule (companion/outputs.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from companion.cli.arguments import add_force_option
from companion.history.report import gather, render
from companion.outputs import vet_file, write_file

FORMATS = {".png": "png", ".html": "html", ".htm": "html"}


def _report_file(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the report is written as PNG or HTML; name the file *.png or *.html"
        )
    return path


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from companion.config import load_config
    from companion.form.rules import load_rules
    from companion.history.runs import open_history

    out: Path = args.out
    rules = load_rules(load_config().coach.rules)
    with open_history() as history:
        run = history.run(args.run)
        report = gather(history, run, rules)
    target = vet_file(out, args.force)  # before the drawing, which takes a while
    write_file(target, render(report, FORMATS[out.suffix.lower()]))
    if run.detail_dropped and not report.seconds:
        console.print(
            f"Run {run.name}: its seconds were dropped on {run.detail_dropped[:10]} "
            "(history.keep_detail_days in the configuration), so the report has its totals, "
            "drifts, cues and trends but no metrics over time."
        )
    console.print(f"Report of {run.name} written to {out}")
    return 0


def add_report_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="a kept run on one page: its metrics over time, drifts, cues and trends",
        description="Draw a kept run: each watched metric over time against your baseline, "
        "the drifts and the cues said, and how the runs up to it compare. A PNG figure, or "
        "one self-contained HTML page with tables of the drifts and cues.",
    )
    p.add_argument(
        "run", nargs="?", help="a run's number or name from `companion history` (default: the last)"
    )
    p.add_argument(
        "--out",
        type=_report_file,
        required=True,
        metavar="FILE",
        help="where to write it: FILE.png (a figure) or FILE.html (a page)",
    )
    add_force_option(p)
    p.set_defaults(handler=cmd_report)
