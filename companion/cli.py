"""The `companion` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from companion.engine import ConfigurationError
from companion.replay import ReplayError, ReplayOptions, coach_recording
from cues.datafile import DataFileError
from sensors.recording import RecordingError, load_recording
from sensors.samples import Placement


def _placement(text: str) -> tuple[str, Placement]:
    sensor, _, place = text.partition("=")
    try:
        return sensor, Placement(place)
    except ValueError:
        choices = ", ".join(p.value for p in Placement)
        raise argparse.ArgumentTypeError(
            f"expected SENSOR=PLACEMENT with PLACEMENT one of {choices}, got {text!r}"
        ) from None


def _add_run_options(p: argparse.ArgumentParser, default_speed: float) -> None:
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per event on stdout instead of the timeline",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=default_speed,
        help=f"run seconds per second (default {default_speed:g}; 1 = real time, "
        "0 = as fast as possible)",
    )
    p.add_argument(
        "--audio",
        choices=("auto", "device", "files"),
        default="auto",
        help="play on the default output device, write WAV files, or (auto) the "
        "device when there is one",
    )
    p.add_argument("--out", type=Path, help="folder for WAV files when they are written")
    p.add_argument("--cues", type=Path, help="a cue catalogue to use instead of the bundled one")
    p.add_argument("--rules", type=Path, help="drift rules to use instead of the bundled ones")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion",
        description="A running-form voice coach: it learns your form, hears it drift, "
        "and says a short cue.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="replay the bundled 25-minute run, with an injected fault, coached aloud"
    )
    _add_run_options(demo, default_speed=150.0)

    replay = sub.add_parser("replay", help="coach a recorded run (the data folder's CSV format)")
    replay.add_argument("file", type=Path)
    replay.add_argument(
        "--sensor", help="which accelerometer to follow (default: the first on the trunk)"
    )
    replay.add_argument(
        "--placement",
        type=_placement,
        action="append",
        default=[],
        metavar="SENSOR=PLACE",
        help="where a sensor sat: chest, pelvis, other",
    )
    replay.add_argument("--trial", type=int, help="one trial of a file with a 'trial' column")
    _add_run_options(replay, default_speed=150.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="companion: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    name = "demo" if args.command == "demo" else Path(args.file.name.split(".")[0]).name
    options = ReplayOptions(
        catalogue=args.cues,
        rules=args.rules,
        speed=args.speed,
        audio=args.audio,
        out=args.out,
        json=args.json,
        sensor=getattr(args, "sensor", None),
        name=name,
    )
    try:
        if args.command == "demo":
            from companion.demo import demo_recording

            recording, markers = demo_recording()
            summary = coach_recording(recording, options, markers)
        else:
            recording = load_recording(args.file, trial=args.trial, placements=dict(args.placement))
            summary = coach_recording(recording, options)
    except (RecordingError, DataFileError, ConfigurationError, ReplayError) as err:
        print(f"companion: {err}", file=sys.stderr)
        return 2
    except KeyError as err:  # --sensor names a sensor the recording does not have
        print(f"companion: {err.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if not args.json:
        print(f"\nSummary: {summary.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
