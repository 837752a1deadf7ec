"""Recordings in the plain CSV format of the project's data folder, and replaying them.

The format, one row per time step:

- ``t_s``: seconds (required, increasing; a ``trial`` column may restart it per trial);
- accelerometer columns ``<sensor>_<axis>_<unit>``: axis ``x``/``y``/``z`` in the sensor's
  own frame, or ``v``/``ap``/``ml`` for a sensor already in body axes (a missing axis reads
  0); unit ``g`` or ``ms2`` (m/s²). ``hip_x_g`` or ``sacrum_v_g`` for example;
- gyroscope columns the same way with unit ``dps`` (degrees per second): ``chest_x_dps``;
- optional ``footpod_speed_mps``, ``footpod_cadence_spm``, ``footpod_stride_m``,
  ``footpod_distance_m`` and ``hr_bpm`` columns, empty where there is no reading;
- any other column is ignored. Files may be gzip- or xz-compressed (``.gz``, ``.xz``).

The sensor name says where it sat (``hip``, ``sacrum``, ``chest``, ``ankle`` ...), which
sets its placement unless the caller says otherwise.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import itertools
import lzma
import re
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from sensors.clock import Clock
from sensors.samples import (
    AccelBatch,
    FloatArray,
    FootpodSample,
    GyroBatch,
    HeartRateSample,
    Placement,
    Sample,
)

G = 9.80665  # m/s² per g
TRIAL_GAP_S = 1.0  # gap left between the trials of a multi-trial file replayed in one go

_MOTION_COLUMN = re.compile(
    r"^(?P<sensor>[a-z][a-z0-9]*)_(?P<axis>x|y|z|v|ap|ml)_(?P<unit>g|ms2|dps)$"
)
_FOOTPOD_COLUMNS = {
    "footpod_speed_mps": "speed_mps",
    "footpod_cadence_spm": "cadence_spm",
    "footpod_stride_m": "stride_m",
    "footpod_distance_m": "distance_m",
}
_PLACEMENT_BY_NAME = {
    **dict.fromkeys(("hip", "pelvis", "sacrum", "waist", "lowback", "lumbar"), Placement.PELVIS),
    **dict.fromkeys(("chest", "sternum", "trunk", "thorax"), Placement.CHEST),
}
_AXIS_ORDER = {"x": 0, "y": 1, "z": 2, "ap": 0, "ml": 1, "v": 2}
B = TypeVar("B", AccelBatch, GyroBatch)


class RecordingError(ValueError):
    """A recording file that cannot be read, with the file and what is wrong in it."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class NoSuchSensor(KeyError):
    """A sensor asked for by name (`--sensor`) that the recording does not have."""

    def __str__(self) -> str:
        return str(self.args[0])  # the sentence, not KeyError's quoted repr of it


def placement_for(sensor: str) -> Placement:
    """The placement a sensor name implies (``hip`` → pelvis, ``chest`` → chest)."""
    return _PLACEMENT_BY_NAME.get(sensor.lower(), Placement.OTHER)


@dataclass(frozen=True)
class _Track(Generic[B]):
    sensor: str
    placement: Placement
    t: FloatArray
    xyz: FloatArray  # shape (n, 3)

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.t))) if self.t.size > 1 else 0.0

    def batch(self, t: FloatArray, xyz: FloatArray) -> B:
        raise NotImplementedError

    def batches(self, chunk_s: float) -> Iterator[B]:
        """The track cut into consecutive batches of about `chunk_s` seconds."""
        if self.t.size == 0:
            return
        edges = np.searchsorted(self.t, np.arange(self.t[0], self.t[-1] + chunk_s, chunk_s))
        edges = np.unique(np.append(edges, self.t.size))
        for a, b in itertools.pairwise(edges):
            if b > a:
                yield self.batch(self.t[a:b], self.xyz[a:b])


@dataclass(frozen=True)
class AccelTrack(_Track[AccelBatch]):
    """All samples of one accelerometer in a recording, in g."""

    def batch(self, t: FloatArray, xyz: FloatArray) -> AccelBatch:
        return AccelBatch(self.sensor, self.placement, t, xyz)


@dataclass(frozen=True)
class GyroTrack(_Track[GyroBatch]):
    """All samples of one gyroscope in a recording, in degrees per second."""

    def batch(self, t: FloatArray, xyz: FloatArray) -> GyroBatch:
        return GyroBatch(self.sensor, self.placement, t, xyz)


@dataclass(frozen=True)
class Recording:
    """A run as recorded: accelerometer (and gyroscope) tracks plus any footpod and
    heart-rate readings."""

    name: str
    accel: tuple[AccelTrack, ...]
    footpod: tuple[FootpodSample, ...] = ()
    heart_rate: tuple[HeartRateSample, ...] = ()
    notes: tuple[str, ...] = field(default=())
    gyro: tuple[GyroTrack, ...] = ()

    @property
    def duration_s(self) -> float:
        ends = [float(tr.t[-1]) for tr in self.accel if tr.t.size]
        ends += [s.t for s in self.footpod] + [s.t for s in self.heart_rate]
        return max(ends, default=0.0)

    def track(self, sensor: str) -> AccelTrack:
        for tr in self.accel:
            if tr.sensor == sensor:
                return tr
        names = ", ".join(tr.sensor for tr in self.accel) or "none"
        raise NoSuchSensor(f"{self.name} has no sensor {sensor!r} (it has: {names})")

    def trunk_tracks(self) -> tuple[AccelTrack, ...]:
        """Tracks worn on the trunk (chest or pelvis): the ones posture is read from."""
        return tuple(tr for tr in self.accel if tr.placement is not Placement.OTHER)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if path.suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _read_columns(path: Path, wanted: list[str], header: list[str]) -> dict[str, FloatArray]:
    cols = [header.index(name) for name in wanted]
    try:
        with _open_text(path) as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data": reported below instead
            data = np.loadtxt(fh, delimiter=",", skiprows=1, usecols=cols, ndmin=2)
    except ValueError:
        data = _read_slowly(path, cols, header)
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise RecordingError(path, f"cannot read the file: {err}") from None
    return {name: data[:, i].astype(np.float64) for i, name in enumerate(wanted)}


def _read_slowly(path: Path, cols: list[int], header: list[str]) -> FloatArray:
    """Row by row: empty cells (no footpod reading on that row) become NaN, and anything
    else that is not a number is refused with its line and column."""
    rows: list[list[float]] = []
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for line, row in enumerate(reader, start=2):
                values = []
                for c in cols:
                    cell = row[c].strip() if c < len(row) else ""
                    try:
                        values.append(float(cell) if cell else np.nan)
                    except ValueError:
                        raise RecordingError(
                            path, f"line {line}, column {header[c]!r}: {cell!r} is not a number"
                        ) from None
                rows.append(values)
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise RecordingError(path, f"cannot read the file: {err}") from None
    return np.array(rows, dtype=np.float64).reshape(-1, len(cols))


def load_recording(
    path: Path | str,
    *,
    trial: int | None = None,
    placements: Mapping[str, Placement] | None = None,
) -> Recording:
    """Read a recording in the data folder's CSV format (see the module docstring).

    A file with a ``trial`` column holds several trials whose time restarts: `trial` picks
    one, otherwise they are laid end to end with a one-second gap between them.
    """
    path = Path(path)
    try:
        with _open_text(path) as fh:
            header = [h.strip() for h in fh.readline().strip().split(",")]
    except (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError) as err:
        raise RecordingError(path, f"cannot read the file: {err}") from None
    if "t_s" not in header:
        raise RecordingError(path, f"no 't_s' column (columns: {', '.join(header)})")

    accel_cols: dict[str, dict[str, tuple[str, str]]] = {}
    gyro_cols: dict[str, dict[str, tuple[str, str]]] = {}
    for name in header:
        m = _MOTION_COLUMN.match(name)
        if m and m["sensor"] not in ("footpod", "hr"):
            into = gyro_cols if m["unit"] == "dps" else accel_cols
            into.setdefault(m["sensor"], {})[m["axis"]] = (name, m["unit"])
    if not accel_cols:
        raise RecordingError(
            path, "no accelerometer columns named like 'hip_x_g' or 'sacrum_v_g' were found"
        )
    extra = [c for c in header if c in _FOOTPOD_COLUMNS or c == "hr_bpm"]
    wanted = ["t_s"] + (["trial"] if "trial" in header else [])
    motion = [*accel_cols.values(), *gyro_cols.values()]
    wanted += [col for axes in motion for col, _ in axes.values()] + extra
    data = _read_columns(path, wanted, header)
    if data["t_s"].size == 0:
        raise RecordingError(path, "the file has a header but no rows")
    if not np.all(np.isfinite(data["t_s"])):
        raise RecordingError(path, "some rows have no time in 't_s'")

    t = data["t_s"]
    notes: list[str] = []
    if "trial" in data:
        trials = data["trial"].astype(int)
        order = list(dict.fromkeys(trials.tolist()))
        if trial is not None:
            if trial not in order:
                raise RecordingError(path, f"no trial {trial} (trials: {order})")
            keep = trials == trial
            data = {k: v[keep] for k, v in data.items()}
            t = data["t_s"] - data["t_s"][0]
            notes.append(f"trial {trial}")
        else:
            t = t.copy()
            offset = 0.0
            for tr in order:
                sel = trials == tr
                t[sel] = t[sel] - t[sel][0] + offset
                offset = float(t[sel][-1]) + TRIAL_GAP_S
            if len(order) > 1:  # one trial is just the run
                notes.append(f"{len(order)} trials laid end to end, {TRIAL_GAP_S:g} s apart")
    _check_times(path, t, "t_s")

    def columns(sensor: str, axes: dict[str, tuple[str, str]]) -> tuple[FloatArray, ...]:
        xyz = np.zeros((t.size, 3))
        for axis, (col, unit) in axes.items():
            xyz[:, _AXIS_ORDER[axis]] = data[col] / (G if unit == "ms2" else 1.0)
        finite = np.all(np.isfinite(xyz), axis=1)
        return t[finite], xyz[finite]

    def place(sensor: str) -> Placement:
        return (placements or {}).get(sensor, placement_for(sensor))

    tracks = [AccelTrack(s, place(s), *columns(s, axes)) for s, axes in accel_cols.items()]
    gyros = [GyroTrack(s, place(s), *columns(s, axes)) for s, axes in gyro_cols.items()]

    footpod = []
    if any(c in data for c in _FOOTPOD_COLUMNS):
        fp = {field: data[c] for c, field in _FOOTPOD_COLUMNS.items() if c in data}
        for i in np.flatnonzero(np.any([np.isfinite(v) for v in fp.values()], axis=0)):
            values = {k: float(v[i]) for k, v in fp.items() if np.isfinite(v[i])}
            footpod.append(FootpodSample(float(t[i]), **values))
    heart = [
        HeartRateSample(float(t[i]), float(data["hr_bpm"][i]))
        for i in (np.flatnonzero(np.isfinite(data["hr_bpm"])) if "hr_bpm" in data else [])
    ]
    return Recording(
        path.name, tuple(tracks), tuple(footpod), tuple(heart), tuple(notes), tuple(gyros)
    )


def _check_times(path: Path, t: FloatArray, column: str) -> None:
    if np.any(np.diff(t) <= 0):
        bad = int(np.argmax(np.diff(t) <= 0)) + 2
        raise RecordingError(path, f"times in {column!r} do not increase at data row {bad}")


PLAIN_ROLES = ("t", "x", "y", "z", "gx", "gy", "gz")


def load_plain_csv(
    path: Path | str,
    columns: Mapping[str, str],
    placement: Placement,
    *,
    unit: str = "g",
    seconds_per_tick: float = 1.0,
    sensor: str | None = None,
) -> Recording:
    """A CSV file of any layout with one sensor in it (a header row, then numbers).

    `columns` maps t, x, y, z (and gx, gy, gz for a gyroscope, in degrees per second) to
    the file's column names; `unit` is the accelerometer's, ``g`` or ``ms2``; times are
    multiplied by `seconds_per_tick` (0.001 for milliseconds).
    """
    path = Path(path)
    unknown = set(columns) - set(PLAIN_ROLES)
    if unknown:
        raise RecordingError(path, f"unknown column role(s) {sorted(unknown)}: use {PLAIN_ROLES}")
    missing = [r for r in ("t", "x", "y", "z") if r not in columns]
    if missing:
        raise RecordingError(path, f"say which column holds {', '.join(missing)} (--columns)")
    if unit not in ("g", "ms2"):
        raise RecordingError(path, f"unit {unit!r}: use g or ms2")
    try:
        with _open_text(path) as fh:
            header = [h.strip().strip('"') for h in fh.readline().strip().split(",")]
    except (OSError, EOFError, UnicodeDecodeError, lzma.LZMAError) as err:
        raise RecordingError(path, f"cannot read the file: {err}") from None
    absent = [c for c in columns.values() if c not in header]
    if absent:
        raise RecordingError(
            path, f"no column(s) {', '.join(map(repr, absent))} (columns: {', '.join(header)})"
        )
    data = _read_columns(path, list(dict.fromkeys(columns.values())), header)
    t = data[columns["t"]] * seconds_per_tick
    if t.size == 0:
        raise RecordingError(path, "the file has a header but no rows")
    t = t - t[0]
    _check_times(path, t, columns["t"])
    name = sensor or placement.value
    scale = G if unit == "ms2" else 1.0

    def axes(roles: tuple[str, str, str], divide: float) -> tuple[FloatArray, FloatArray]:
        xyz = np.column_stack([data[columns[r]] for r in roles]) / divide
        finite = np.all(np.isfinite(xyz), axis=1)
        return t[finite], xyz[finite]

    accel = AccelTrack(name, placement, *axes(("x", "y", "z"), scale))
    gyro: tuple[GyroTrack, ...] = ()
    if all(r in columns for r in ("gx", "gy", "gz")):
        gyro = (GyroTrack(name, placement, *axes(("gx", "gy", "gz"), 1.0)),)
    return Recording(path.name, (accel,), gyro=gyro)


def timed_samples(
    recording: Recording,
    chunk_s: float,
    tracks: tuple[AccelTrack, ...] | None = None,
    gyros: tuple[GyroTrack, ...] | None = None,
) -> Iterator[tuple[float, Sample]]:
    """Every sample of the recording in time order, each with the time it is complete at:
    motion tracks cut into batches of about `chunk_s` seconds, as a sensor sends them."""
    motion: list[AccelTrack | GyroTrack] = [
        *(recording.accel if tracks is None else tracks),
        *(recording.gyro if gyros is None else gyros),
    ]
    streams: list[Iterator[tuple[float, Sample]]] = [
        ((float(b.t[-1]), b) for b in tr.batches(chunk_s)) for tr in motion
    ]
    streams.append((s.t, s) for s in recording.footpod)
    streams.append((s.t, s) for s in recording.heart_rate)
    return heapq.merge(*streams, key=lambda item: item[0])


class ReplaySource:
    """Plays a recording through the sensor-source interface at the pace of a clock.

    Accelerometer tracks are cut into short batches, as a live sensor sends them, and all
    samples come out in time order, each once the clock has reached its time.
    """

    def __init__(
        self,
        recording: Recording,
        clock: Clock,
        *,
        sensors: tuple[str, ...] | None = None,
        chunk_s: float = 0.2,
    ):
        self.recording = recording
        self.clock = clock
        self.tracks = tuple(recording.track(s) for s in sensors) if sensors else recording.accel
        names = {tr.sensor for tr in self.tracks}
        self.gyros = tuple(g for g in recording.gyro if g.sensor in names)
        self.chunk_s = chunk_s

    def _timed(self) -> Iterator[tuple[float, Sample]]:
        return timed_samples(self.recording, self.chunk_s, self.tracks, self.gyros)

    async def stream(self) -> AsyncIterator[Sample]:
        for t, sample in self._timed():
            await self.clock.sleep_until(t)
            yield sample
