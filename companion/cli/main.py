"""The `companion` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn, TypeVar, cast

from rich.console import Console
from threadpoolctl import threadpool_limits

from companion import logs
from companion.cli.arguments import RUN_MINUTES, number, setting
from companion.cli.config import add_config_commands
from companion.cli.control import add_control_commands
from companion.cli.cues import add_cue_commands, add_voice_options, voice_settings
from companion.cli.drills import add_drill_commands
from companion.cli.export import add_export_commands
from companion.cli.history import add_history_commands
from companion.cli.report import add_report_commands
from companion.cli.sensors import add_commands, add_transport
from companion.cli.service import add_service_commands
from companion.cli.sources import add_recording_options, add_source_options, open_samples
from companion.coaching.spoken import written
from companion.config import CoachConfig, SoundConfig, load_config
from companion.daemon.control import Start
from companion.outputs import NotConfirmed
from companion.run.options import RunOptions
from sensors.protocols.rsc import CadenceUnit

# The analysis, the Bluetooth stack and the recordings are imported by the commands that
# use them: `companion daemon` and `companion status` start without them.

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """A mistake on the command line in one line, as every other input error is said."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("companion").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"companion: {where}{message} (`{self.prog} --help` says what it takes)\n")


def _add_run_options(p: argparse.ArgumentParser, replay: bool) -> None:
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per event on stdout instead of the timeline",
    )
    if replay:
        p.add_argument(
            "--speed",
            type=setting(Start, "speed"),
            default=150.0,
            help="run seconds per second (default 150; 1 = real time, 0 = as fast as possible)",
        )
    p.add_argument(
        "--audio",
        choices=("auto", "device", "files"),
        help="play on the default output device, write WAV files, or (auto) the "
        "device when there is one",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for WAV files when they are written (made if missing; files in it are "
        "never replaced: the new ones are numbered after them)",
    )
    p.add_argument("--cues", type=Path, help="a cue catalogue to use instead of the bundled one")
    p.add_argument("--rules", type=Path, help="drift rules to use instead of the bundled ones")
    p.add_argument(
        "--metronome",
        type=setting(SoundConfig, "metronome_beats"),
        metavar="BEATS",
        help="after an overstriding cue, this many soft ticks at your own cadence (default 0: off)",
    )
    add_voice_options(p)
    p.add_argument(
        "--pre-roll",
        type=setting(SoundConfig, "pre_roll_s"),
        metavar="SECONDS",
        help="inaudible sound before the first word, so sleeping Bluetooth headphones wake "
        "in time (default 0.3)",
    )
    p.add_argument(
        "--duck",
        type=setting(SoundConfig, "duck_level"),
        metavar="LEVEL",
        help="other audio's volume while a cue plays, 0-1 (default 0.3; 1 leaves it alone)",
    )
    p.add_argument(
        "--headphones-only",
        action="store_true",
        default=None,
        help="say nothing when the output is not headphones (cues are still shown)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="companion",
        description="A running-form voice coach: it learns your form, hears it drift, "
        "and says a short cue.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = cast(  # of _Parser, which the commands' modules need not know
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )

    demo = sub.add_parser(
        "demo", help="replay the bundled 25-minute run, with an injected fault, coached aloud"
    )
    _add_run_options(demo, replay=True)
    demo.set_defaults(handler=cmd_demo)

    replay = sub.add_parser(
        "replay", help="coach a recording (the data folder's CSV format, or a live run's raw log)"
    )
    replay.add_argument("file", type=Path)
    replay.add_argument(
        "--sensor", help="which accelerometer to follow (default: the first on the trunk)"
    )
    add_recording_options(replay)
    _add_run_options(replay, replay=True)
    replay.set_defaults(handler=cmd_replay)

    run = sub.add_parser("run", help="a live run with the paired sensors, coached aloud")
    run.add_argument(
        "--minutes", type=RUN_MINUTES, help="end the run after this long (else Ctrl-C)"
    )
    run.add_argument(
        "--rate",
        type=number(int, ge=1, le=1000),
        default=200,
        help="accelerometer rate to ask a Polar strap for (default 200 Hz)",
    )
    run.add_argument(
        "--cadence",
        choices=[c.value for c in CadenceUnit],
        default="auto",
        help="what the footpod's cadence counts (default: tell from the data)",
    )
    add_transport(run)
    _add_run_options(run, replay=False)
    run.set_defaults(handler=cmd_run)

    analyze = sub.add_parser(
        "analyze",
        help="a recorded run minute by minute: metrics, baseline and drift episodes",
        description="Analyse a recording (the data folder's CSV format, a live run's raw log, "
        "or any CSV file with --columns) as fast as the machine goes, and print the metrics "
        "of each minute, the runner's baseline and the drift episodes.",
    )
    analyze.add_argument("file", type=Path, help="the recording")
    add_source_options(analyze)
    analyze.add_argument(
        "--warmup",
        type=setting(CoachConfig, "warmup_s"),
        metavar="SECONDS",
        help="seconds of running not judged (default: the configuration's, else 60)",
    )
    analyze.add_argument(
        "--learn",
        type=setting(CoachConfig, "baseline_s"),
        metavar="SECONDS",
        help="seconds of running after the warm-up that the baseline is learned from (default 120)",
    )
    analyze.add_argument("--json", action="store_true", help="one JSON object on stdout")
    analyze.add_argument("--cues", type=Path, help="a cue catalogue instead of the bundled one")
    analyze.add_argument("--rules", type=Path, help="drift rules instead of the bundled ones")
    analyze.set_defaults(handler=cmd_analyze)

    add_commands(sub)
    add_cue_commands(sub)
    add_config_commands(sub)
    add_control_commands(sub)
    add_service_commands(sub)
    add_drill_commands(sub)
    add_history_commands(sub)
    add_report_commands(sub)
    add_export_commands(sub)
    return parser


def _given(value: T | None, configured: T) -> T:
    """The command line's value where one was given, else the configuration's."""
    return configured if value is None else value


def _options(args: argparse.Namespace, name: str) -> RunOptions:
    from companion.outputs import vet_folder

    cfg = load_config()
    duck = args.duck
    return RunOptions.configured(
        cfg,
        speed=getattr(args, "speed", 1.0),
        audio=args.audio,
        out=None if args.out is None else vet_folder(args.out),  # before a live run's raw log
        json=args.json,
        sensor=getattr(args, "sensor", None),
        catalogue=args.cues,
        rules=args.rules,
        name=name,
        minutes=getattr(args, "minutes", None),
        metronome=args.metronome,
        voice=voice_settings(args, cfg),
        pre_roll_s=args.pre_roll,
        duck_level=None if duck is None else (None if duck >= 1 else duck),
        headphones_only=args.headphones_only,
    )


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    options = _options(args, "demo")  # a broken configuration refused before the analysis loads
    from companion.run.demo import demo_recording
    from companion.run.runner import coach_recording

    recording, markers = demo_recording()
    summary = coach_recording(recording, options, markers)
    if not args.json:
        print(f"\nSummary: {written(summary.text)}")
    return 0


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    # A broken configuration or recording is refused before the analysis loads.
    options = _options(args, args.file.name.split(".")[0])
    from sensors.recorded.rawlog import is_raw_log
    from sensors.recorded.recording import load_recording

    recording = None
    if not is_raw_log(args.file):
        recording = load_recording(args.file, trial=args.trial, placements=dict(args.placement))
    from companion.run.runner import coach_raw_log, coach_recording

    if recording is None:
        summary = coach_raw_log(args.file, options)
    else:
        summary = coach_recording(recording, options)
    if not args.json:
        print(f"\nSummary: {written(summary.text)}")
    return 0


def cmd_analyze(args: argparse.Namespace, console: Console) -> int:
    opened = open_samples(args)  # a file that cannot be read is refused before the analysis loads
    cfg = load_config()
    from dataclasses import replace

    from companion.cli.analyze import analyze, print_table, write_json
    from companion.coaching.engine import EngineSettings
    from companion.coaching.files import load_coaching
    from companion.form.trunk import AnalysisSettings
    from sensors.recorded.rawlog import RawLogError

    settings = EngineSettings(
        warmup_s=_given(args.warmup, cfg.coach.warmup_s),
        baseline_s=_given(args.learn, cfg.coach.baseline_s),
        analysis=replace(AnalysisSettings(), sensor_wait_s=opened.chunk_s + 5),
    )
    catalogue, rules = load_coaching(
        _given(args.cues, cfg.coach.cues), _given(args.rules, cfg.coach.rules)
    )
    result = analyze(args.file.name, opened.samples, catalogue, rules, settings, opened.notes)
    if args.json:
        write_json(result, sys.stdout)
    else:
        print_table(result, console)
    if opened.damage is not None:  # what was read is shown; the damage fails the command
        raise RawLogError(f"{opened.damage}; what is shown is of that part")
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from companion import paths
    from companion.history.retention import retain
    from companion.run.runner import coach_live
    from sensors.bluetooth import pairing
    from sensors.bluetooth.live import LiveSettings

    sensors = pairing.load(paths.paired_sensors())
    settings = LiveSettings(acc_rate_hz=args.rate, cadence_unit=CadenceUnit(args.cadence))
    keep_days = load_config().history.keep_detail_days  # as the run began: it may be edited
    summary, log = coach_live(sensors, args.transport, _options(args, "run"), settings)
    if not args.json:
        print(f"\nSummary: {written(summary.text)}\nThe sensors' raw data is kept in {log}")
    retain(paths.history_db(), keep_days)  # after a run kept
    return 0


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors that are the input's fault (a file, a setting, a request): said in one line."""
    from companion.coaching.files import ConfigurationError
    from companion.history.store import ImportRefused, StoreError
    from companion.outputs import OutputError
    from companion.run.options import RunError
    from cues.datafile import DataFileError
    from sensors.bluetooth.pairing import PairingError
    from sensors.recorded.rawlog import RawLogError
    from sensors.recorded.recording import NoSuchSensor, RecordingError

    return (
        RecordingError,
        NoSuchSensor,
        RawLogError,
        DataFileError,
        ConfigurationError,
        RunError,
        OutputError,
        PairingError,
        StoreError,
        ImportRefused,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Our matrices are tiny: BLAS threads only fight the audio and BLE threads for the cores
    # (measured: a window's spectrum 300 times slower on a busy two-core machine).
    threadpool_limits(limits=1, user_api="blas")
    logs.setup(args.verbose)
    console = Console()
    try:
        return int(args.handler(args, console))
    except NotConfirmed as err:  # nothing done: the runner said no, or could not be asked
        print(f"companion: {err}", file=sys.stderr)
        return 1
    except Exception as err:
        if not isinstance(err, _input_errors()):
            raise
        print(f"companion: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
