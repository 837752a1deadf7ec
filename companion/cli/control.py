"""The commands that talk to a running daemon: status, start, stop, pause, resume, say."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Console

from companion.cli.arguments import setting
from companion.coaching.spoken import duration_clock, written
from companion.daemon.control import Start
from companion.daemon.control_socket import NoDaemon, request, socket_path

STATES = {
    "idle": "idle, no run",
    "connecting": "connecting to the sensors",
    "warmup": "warming up: learning your form",
    "running": "running",
    "finished": "idle, a run finished",
}


def _clock(seconds: float) -> str:
    return duration_clock(seconds) if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _now(m: dict[str, Any]) -> str:
    """The run's latest metrics, in words and units."""
    parts = []
    if m.get("cadence_spm") is not None:
        parts.append(f"cadence {m['cadence_spm']:.0f} steps/min")
    if m.get("lean_deg") is not None:
        parts.append(f"lean {m['lean_deg']:+.1f}°")
    if m.get("speed_mps") is not None:
        parts.append(f"speed {m['speed_mps']:.1f} m/s")
    if m.get("heart_rate_bpm") is not None:
        parts.append(f"heart rate {m['heart_rate_bpm']:.0f} beats/min")
    if m.get("steps") is not None:
        parts.append(f"{m['steps']:,} steps")
    return ", ".join(parts)


def _sensors(sensors: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, info in sensors.items():
        words = [info.get("link", "not heard yet")]
        if info.get("battery") is not None:
            words.append(f"battery {info['battery']} %")
        lines.append(f"{name} ({info.get('role', 'sensor')}): {', '.join(words)}")
    return "\n".join(lines)


def _drill(d: dict[str, Any]) -> str:
    step = f"step {d['step']}, " if d.get("step") else ""
    paused = ", paused" if d.get("paused") else ""
    return f"{d['title']}: {step}{d['at']} of {d['length']}{paused}"


def status_rows(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """The daemon's status as rows a runner reads at a glance: words, not field names."""
    a = answer
    rows: list[tuple[str, str]] = []
    state = a.get("state", "")
    if state == "paused":
        by = a.get("paused_by")
        state_text = "paused by you" if by == "you" else "paused: you stopped running"
    else:
        state_text = STATES.get(state, state)
    rows.append(("state", state_text))
    if "running_s" in a:
        rows.append(
            ("time", f"{_clock(a['running_s'])} running, {_clock(a['run_s'])} since the start")
        )
    if a.get("source"):
        rows.append(("run", a["source"]))
    if a.get("sensors"):
        rows.append(("sensors", _sensors(a["sensors"])))
    if a.get("metrics") and (now := _now(a["metrics"])):
        rows.append(("now", now))
    if "drifts" in a:
        rows.append(("drifting", ", ".join(a["drifts"]) or "nothing: your form holds"))
    if a.get("last_cue"):
        rows.append(("last cue", f"{a['last_cue']['at']}  “{a['last_cue']['text']}”"))
    if a.get("drill"):
        rows.append(("drill session", _drill(a["drill"])))
    if a.get("summary"):
        rows.append(("summary", written(a["summary"])))
    if a.get("last_run"):
        last = a["last_run"]
        ended = last.get("ended", "")[11:16]
        said = written(last["summary"]) if last.get("summary") else last["source"]
        rows.append(("last run", f"ended {ended}: {said}"))
    if "next_drill_reminder" in a:
        when = a["next_drill_reminder"]
        rows.append(("drill reminder", when.replace("T", " ")[:16] if when else "none set"))
    if "auto_start" in a:
        rows.append(("auto start", "on: a run starts when you run" if a["auto_start"] else "off"))
    if a.get("said"):
        rows.append(("said", a["said"]))
    for key in ("events_file", "raw_log"):
        if a.get(key):
            rows.append((key.replace("_", " "), a[key]))
    if "daemon_up_s" in a:
        rows.append(("daemon up", _clock(a["daemon_up_s"])))
    return rows


FILES = ("events file", "raw log")  # printed whole: a path cut in two cannot be used


def show_status(answer: dict[str, Any], console: Console) -> None:
    """The rows aligned, prose wrapped to the terminal, paths never broken."""
    rows = status_rows(answer)
    width = max(len(name) for name, _ in rows) + 2
    for name, text in rows:
        lines = text.split("\n") if name in FILES or name == "sensors" else [text]
        for i, line in enumerate(lines):
            label = (name if i == 0 else "").ljust(width)
            if name in FILES:
                print(f"{label}{line}")
                continue
            wrapped = textwrap.wrap(line, max(20, console.width - width)) or [""]
            print(label + f"\n{' ' * width}".join(wrapped))


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
