"""`companion history|summary|report|export|import|delete`: the runs kept, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich import box
from rich.console import Console

from companion import logs, paths
from companion.cli.arguments import number
from companion.cli.sources import add_source_options
from companion.cli.tables import Column, fitted
from companion.coaching.spoken import duration_clock, written, written_pace
from companion.config import load_config
from companion.form.record import RunInfo
from companion.history.runs import open_history, run_dict, summary_of
from companion.history.store import Store
from companion.outputs import confirm


def _pace(run: RunInfo) -> str:
    return written_pace(run.distance_m or 0.0, run.running_s or 0.0) or ""


def _held(run: RunInfo) -> str:
    if run.form_held is None or run.held_s is None or run.judged_s is None:
        return ""
    return f"{run.held_s / 60:.0f}/{run.judged_s / 60:.0f} min"


def _onset(run: RunInfo) -> str:
    return "none" if run.drift_onset_s is None else f"min {run.drift_onset_s / 60:.0f}"


def _note(run: RunInfo) -> str:
    note = {"recording": "recording…", "recovered": "recovered"}.get(run.state, "")
    return f"{note} detail dropped".strip() if run.detail_dropped else note


def cmd_history(args: argparse.Namespace, console: Console) -> int:
    with open_history() as history:
        if args.prune:  # said on stderr with --json: stdout holds the runs alone
            _prune(history, Console(stderr=True) if args.json else console)
        runs = history.runs()
    if args.limit:
        runs = runs[: args.limit]
    if args.json:
        rows = [run_dict(r) for r in runs]
        json.dump(rows, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not runs:
        console.print(
            "No runs kept yet. A run coached by `companion start` or `companion run`, "
            "or one brought in with `companion import FILE`, is kept here."
        )
        return 0
    cells: dict[Column, Callable[[RunInfo], str]] = {
        Column("#", right=True): lambda r: str(r.id),
        Column("started"): lambda r: r.started.strftime("%Y-%m-%d %H:%M"),
        Column("kind"): lambda r: r.kind,
        Column("time", right=True, keep=6): lambda r: (
            duration_clock(r.duration_s) if r.duration_s is not None else ""
        ),
        Column("km", right=True, keep=4): lambda r: (
            f"{r.distance_m / 1000:.2f}" if r.distance_m else ""
        ),
        Column("pace", right=True, keep=5): _pace,
        Column("cadence", right=True, keep=2): lambda r: (
            f"{r.cadence_spm:.0f}" if r.cadence_spm else ""
        ),
        Column("form held", right=True, keep=7): _held,
        Column("drift", right=True, keep=3): _onset,
        Column("cues", right=True, keep=1): lambda r: (
            "" if r.form_cues is None else str(r.form_cues)
        ),
        Column("note", whole=False, keep=8): _note,
    }
    # Columns no run has a value for are left out, and the least needed if it is narrow.
    shown = [column for column, cell in cells.items() if any(cell(r) for r in runs)]
    lines = [[cells[column](r) for column in shown] for r in runs]
    title = f"Runs kept ({len(runs)})"
    console.print(fitted(console, shown, lines, title=title, box=box.SIMPLE_HEAD))
    return 0


def _prune(history: Store, out: Console) -> None:
    """`companion history --prune`: retention now, each run it drops said."""
    from companion.history.retention import given_back, prune

    days = load_config().history.keep_detail_days
    if days <= 0:
        out.print(
            "Retention is off ([history] keep_detail_days = 0): every run keeps its detail.",
            markup=False,
        )
        return
    dropped, freed = prune(history, days)
    if not dropped:
        out.print(f"No run older than {days} days still has its detail: nothing was dropped.")
        return
    for d in dropped:
        out.print(f"Retention (keep_detail_days = {days}): {d.describe()}.", markup=False)
    said = given_back(freed)
    out.print(f"{said[0].upper()}{said[1:]}.")


def cmd_summary(args: argparse.Namespace, console: Console) -> int:
    with open_history() as history:
        run = history.run(args.run)
        text = summary_of(history, run)
    if args.json:
        print(json.dumps({"run": run.name, "summary": text}, ensure_ascii=False))
    else:
        console.print(f"[bold]{run.name}[/] ({run.started:%a %d %b %Y %H:%M})")
        console.print(written(text))
    if args.speak:
        _speak(text, args, console)
    return 0


def _speak(text: str, args: argparse.Namespace, console: Console) -> None:

    from companion.run.options import RunOptions, open_audio
    from cues.speaker import Speaker

    cfg = load_config()
    options = RunOptions.configured(cfg, name="summary", audio=args.audio, out=args.out)
    sink, renderer = open_audio(options, console)
    try:
        speaker = Speaker(renderer, sink)

        async def say() -> None:
            await speaker.say(text, "summary", 0.0, priority=100)
            await speaker.heard()

        logs.run(say())
    finally:
        sink.close()
        renderer.close()


def cmd_import(args: argparse.Namespace, console: Console) -> int:
    from companion.cli.sources import open_samples
    from sensors.recorded.rawlog import RawLogError, is_raw_log

    cfg = load_config()
    path: Path = args.file
    opened = open_samples(args)  # a file that cannot be read is refused before the analysis loads
    started = _started(args, path)
    if opened.damage is not None and not args.force:
        raise RawLogError(
            f"{opened.damage}. Nothing was kept; `companion import --force` keeps the run as "
            "far as it reads, with all of the file's bytes"
        )
    from dataclasses import replace

    from companion.coaching.engine import EngineSettings
    from companion.coaching.files import load_coaching
    from companion.form.trunk import AnalysisSettings
    from companion.history.importer import import_run
    from companion.history.recorder import recover
    from companion.history.retention import retain
    from companion.history.store import content_of

    settings = EngineSettings(
        warmup_s=cfg.coach.warmup_s,
        baseline_s=cfg.coach.baseline_s,
        analysis=replace(AnalysisSettings(), sensor_wait_s=opened.chunk_s + 5),
    )
    raw = is_raw_log(path)
    db = paths.history_db()
    recover(db)  # runs a killed process left are closed first, as for any run
    catalogue, rules = load_coaching(cfg.coach.cues, cfg.coach.rules)
    run = import_run(
        db,
        path.name,
        opened.samples,
        catalogue,
        rules,
        settings,
        started,
        raw_log=path.read_bytes() if raw else None,
        files={"source": str(path.resolve())},
        content=content_of(path, None if raw else args.trial),
    )
    console.print(f"Kept as run {run.id} ({run.name}): {written(run.summary or '')}")
    stopped = opened.reading.note() if opened.reading is not None else None
    if stopped is not None:
        how = "all of its bytes are kept with the run" if opened.damage else "kept as it is"
        console.print(f"{stopped}; {how}.", markup=False)
    retain(db, cfg.history.keep_detail_days)
    return 0


def _started(args: argparse.Namespace, path: Path) -> datetime:
    """When the run being imported began: --when, else the time in a raw log's name, else
    the file's time; never after now."""
    from companion.history.store import ImportRefused

    when: datetime
    if args.when is not None:
        when, said = args.when, "--when"
    elif (named := _named_time(path)) is not None:
        when, said = named, "its name"
    else:
        when, said = _file_time(path), "the file's time"
    if when > datetime.now().astimezone():
        raise ImportRefused(
            f"{path.name}: {said} says {when:%Y-%m-%d %H:%M}, which is in the future; "
            "say when the run was run with --when DATE"
        )
    return when


def _named_time(path: Path) -> datetime | None:
    """When a run began, from its files' name (run-20261126-0715...), as the daemon names them."""
    try:
        return datetime.strptime(path.name[4:19], "%Y%m%d-%H%M%S").astimezone()
    except ValueError:
        return None


def _file_time(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone().replace(microsecond=0)


def cmd_delete(args: argparse.Namespace, console: Console) -> int:
    with open_history() as history:
        run = history.run(args.run)
        size, _ = history.raw_size(run.id)
        what = f"run {run.id} ({run.name}, {run.started:%a %d %b %Y %H:%M}"
        what += f", {duration_clock(run.duration_s)})" if run.duration_s is not None else ")"
        if run.state == "recording":
            console.print(f"{what} is being recorded; stop it first.")
            return 1
        if not args.yes:
            from companion.history.retention import size as kb_or_mb

            raw = f" and its {kb_or_mb(size)} of raw sensor data" if size else ""
            confirm(
                f"Delete {what}{raw}? This cannot be undone.",
                unasked=f"not deleted: {what}; --yes deletes it without asking",
                declined=f"kept: {what}",
            )
        history.delete(run)
    removed = []
    for key in ("events", "raw_log"):
        name = run.files.get(key)
        if name and Path(name).exists():
            Path(name).unlink()
            removed.append(name)
    console.print(f"Deleted {what}" + (f", and its files {', '.join(removed)}" if removed else ""))
    return 0


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date and time such as 2026-11-20T07:30, got {text!r}"
        ) from None
    return when if when.tzinfo else when.astimezone()


def add_history_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_help = "a run's number or name from `companion history` (default: the last)"

    p = sub.add_parser("history", help="the runs kept: a table, newest first")
    p.add_argument("--limit", type=number(int, ge=1), help="only the newest N")
    p.add_argument("--json", action="store_true", help="the runs as one JSON list")
    p.add_argument(
        "--prune",
        action="store_true",
        help="apply retention now ([history] keep_detail_days): say each run whose detail "
        "goes, and give the space back",
    )
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("summary", help="a kept run's summary, compared with the runs before it")
    p.add_argument("run", nargs="?", help=run_help)
    p.add_argument("--speak", action="store_true", help="say it, too")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.add_argument("--audio", choices=("auto", "device", "files"), help="with --speak: where")
    p.add_argument("--out", type=Path, metavar="DIR", help="with --speak --audio files: the folder")
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser(
        "import",
        help="keep a recording (a raw log, the data folder's CSV, or any CSV with --columns) "
        "in the history, analysed as if coached",
    )
    p.add_argument("file", type=Path, help="the recording")
    add_source_options(p)
    p.add_argument(
        "--when",
        type=_when,
        metavar="DATE",
        help="when it was run (default: from a raw log's name, else the file's time)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="keep a damaged raw log all the same: the run as far as it reads, with all of "
        "the file's bytes",
    )
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("delete", help="delete a run from the history, and its files")
    p.add_argument("run", help=run_help.replace(" (default: the last)", ""))
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=cmd_delete)
