"""The command-line options that say what a recording is, and the samples they read.

Shared by `companion analyze` and `companion import`: the data folder's CSV format, a live
run's raw log, or any CSV file described with --columns.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from companion.cli.arguments import number
from sensors.samples import Placement, Sample

if TYPE_CHECKING:
    from sensors.recorded.rawlog import LogReading

CHUNK_S = 10.0  # big batches: the analysis gives the same windows for any batch size


def _placement(text: str) -> tuple[str, Placement]:
    sensor, _, place = text.partition("=")
    try:
        return sensor, Placement(place)
    except ValueError:
        choices = ", ".join(p.value for p in Placement)
        raise argparse.ArgumentTypeError(
            f"expected SENSOR=PLACEMENT with PLACEMENT one of {choices}, got {text!r}"
        ) from None


def _column_map(text: str) -> dict[str, str]:
    pairs = [part.partition("=") for part in text.split(",") if part.strip()]
    if not pairs or any(not role or not sep or not col for role, sep, col in pairs):
        raise argparse.ArgumentTypeError(f"expected ROLE=COLUMN,... got {text!r}")
    return {role.strip(): col.strip() for role, _, col in pairs}


def add_recording_options(p: argparse.ArgumentParser) -> None:
    """For a recording in the data folder's format."""
    p.add_argument(
        "--placement",
        type=_placement,
        action="append",
        default=[],
        metavar="SENSOR=PLACE",
        help="where a sensor sat: chest, pelvis, other",
    )
    p.add_argument(
        "--trial", type=number(int, ge=0), help="one trial of a file with a 'trial' column"
    )


def add_source_options(p: argparse.ArgumentParser) -> None:
    """A recording in any of the formats `open_samples` reads."""
    p.add_argument(
        "--columns",
        type=_column_map,
        metavar="ROLE=COLUMN,...",
        help="a plain CSV file: which columns hold t, x, y, z (and gx, gy, gz for a "
        "gyroscope in deg/s), e.g. t=time,x=ax,y=ay,z=az",
    )
    p.add_argument(
        "--worn",
        choices=[Placement.PELVIS.value, Placement.CHEST.value],
        default=Placement.PELVIS.value,
        help="with --columns: where the sensor sat (default pelvis)",
    )
    p.add_argument(
        "--units", choices=("g", "ms2"), default="g", help="with --columns: accelerometer unit"
    )
    p.add_argument(
        "--time-unit", choices=("s", "ms"), default="s", help="with --columns: unit of t"
    )
    add_recording_options(p)


@dataclass(frozen=True)
class Opened:
    """A recording opened: its samples in big batches, its notes, the batches' length,
    and for a raw log, how far it reads (and why not further)."""

    samples: Iterator[Sample]
    notes: tuple[str, ...]
    chunk_s: float
    reading: LogReading | None = None

    @property
    def damage(self) -> str | None:
        """Where a raw log is damaged and what was read before it; None if it is not."""
        return self.reading.note() if self.reading and self.reading.damaged else None


def open_samples(args: argparse.Namespace) -> Opened:
    """The samples of `args.file`, in whichever format it is."""
    from sensors.clock import UnpacedClock
    from sensors.recorded.rawlog import RawLogSource, is_raw_log
    from sensors.recorded.recording import load_plain_csv, load_recording, timed_samples

    path: Path = args.file
    if is_raw_log(path):
        log = RawLogSource(path, UnpacedClock())
        cut = log.reading.note() if log.reading.cut_short else None
        samples = (sample for _, sample in log.timed())
        return Opened(samples, (cut,) if cut else (), CHUNK_S, log.reading)
    if args.columns is not None:
        recording = load_plain_csv(
            path,
            args.columns,
            Placement(args.worn),
            unit=args.units,
            seconds_per_tick=0.001 if args.time_unit == "ms" else 1.0,
        )
    else:
        recording = load_recording(path, trial=args.trial, placements=dict(args.placement))
    recording.require_trunk()  # posture is read from the trunk: say so rather than find nothing
    samples = (sample for _, sample in timed_samples(recording, CHUNK_S))
    return Opened(samples, recording.notes, CHUNK_S)
