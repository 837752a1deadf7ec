"""Recordings in the plain CSV format of the project's data folder, and replaying them.

The format, one row per time step:

- ``t_s``: seconds (required, increasing; a ``trial`` column may restart it per trial);
- accelerometer columns ``<sensor>_<axis>_<unit>``: axes ``x``, ``y``, ``z`` in the
  sensor's own frame (all three), or ``v``, ``ap``, ``ml`` for a sensor already in body
  axes (``v`` at least; a body axis not measured reads 0); unit ``g`` or ``ms2`` (m/s²).
  ``hip_x_g`` or ``sacrum_v_g`` for example; names are read without regard to case;
- gyroscope columns the same way with unit ``dps`` (degrees per second): ``chest_x_dps``;
- optional ``footpod_speed_mps``, ``footpod_cadence_spm``, ``footpod_stride_m``,
  ``footpod_distance_m`` and ``hr_bpm`` columns, empty where there is no reading;
- any other column is ignored (one that looks like an axis is named in the notes). Files
  may be gzip- or xz-compressed (``.gz``, ``.xz``).

The sensor name says where it sat (``hip``, ``sacrum``, ``chest``, ``ankle`` ...), which
sets its placement unless the caller says otherwise.

What the numbers say about themselves is checked too (sensors/recorded/plausible.py): a sample rate
a sensor could have, and gravity reading about 1 g, so that a unit mislabelled is refused
with the way to say it rather than analysed into nonsense.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from sensors.clock import Clock
from sensors.recorded.columns import (
    AXIS_ORDER,
    AXIS_WORDS,
    SensorColumns,
    known_name,
    known_off_trunk,
    motion_layout,
    placement_for,
    trunk_names,
)
from sensors.recorded.csvfile import CsvTable, listed
from sensors.recorded.csvfile import RecordingError as RecordingError
from sensors.recorded.plausible import G as G
from sensors.recorded.plausible import RateProblem, rate_problem, sample_rate, unit_problem
from sensors.samples import (
    AccelBatch,
    FloatArray,
    FootpodSample,
    GyroBatch,
    HeartRateSample,
    Placement,
    Sample,
)

TRIAL_GAP_S = 1.0  # gap left between the trials of a multi-trial file replayed in one go
EXAMPLE_HEADER = "t_s,hip_x_g,hip_y_g,hip_z_g"

_FOOTPOD_COLUMNS = {
    "footpod_speed_mps": "speed_mps",
    "footpod_cadence_spm": "cadence_spm",
    "footpod_stride_m": "stride_m",
    "footpod_distance_m": "distance_m",
}
B = TypeVar("B", AccelBatch, GyroBatch)


class NoSuchSensor(KeyError):
    """A sensor asked for by name (`--sensor`) that the recording does not have."""

    def __str__(self) -> str:
        return str(self.args[0])  # the sentence, not KeyError's quoted repr of it


IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class _Track(Generic[B]):
    sensor: str
    placement: Placement
    t: FloatArray
    xyz: FloatArray  # shape (n, 3)

    @property
    def rate_hz(self) -> float:
        return sample_rate(self.t)

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
    path: Path | None = None  # the file it was read from

    @property
    def duration_s(self) -> float:
        ends = [float(tr.t[-1]) for tr in self.accel if tr.t.size]
        ends += [s.t for s in self.footpod] + [s.t for s in self.heart_rate]
        return max(ends, default=0.0)

    def track(self, sensor: str) -> AccelTrack:
        for tr in self.accel:
            if tr.sensor in (sensor, sensor.lower()):
                return tr
        names = ", ".join(tr.sensor for tr in self.accel) or "none"
        raise NoSuchSensor(f"{self.name} has no sensor {sensor!r} (it has: {names})")

    def trunk_tracks(self) -> tuple[AccelTrack, ...]:
        """Tracks worn on the trunk (chest or pelvis): the ones posture is read from."""
        return tuple(tr for tr in self.accel if tr.placement is not Placement.OTHER)

    def require_trunk(self) -> tuple[AccelTrack, ...]:
        """The trunk tracks; when there are none, a `RecordingError` saying why each sensor
        is not one and how to say where it sat."""
        trunk = self.trunk_tracks()
        if trunk:
            return trunk

        def why(sensor: str) -> str:
            if known_off_trunk(sensor):
                return f"{sensor!r} sat off the trunk"
            if placement_for(sensor) is not Placement.OTHER:
                return f"{sensor!r} was placed off the trunk (--placement)"
            return f"{sensor!r} is not a name for the chest or pelvis"

        unknown = [tr.sensor for tr in self.accel if not known_name(tr.sensor)]
        example = (unknown or [tr.sensor for tr in self.accel])[0]
        whys = ", ".join(why(tr.sensor) for tr in self.accel)
        raise RecordingError(
            self.path or self.name,
            f"no sensor on the trunk to coach from ({whys}; the names taken as the trunk are "
            f"{trunk_names()}): say where it sat, for example --placement {example}=pelvis "
            f"or --placement {example}=chest",
        )


def _unknown_name_note(sensor: str) -> str:
    return (
        f"{sensor} is not taken as a trunk sensor (its name is not one for the chest or "
        f"pelvis): if it sat there, say --placement {sensor}=pelvis or {sensor}=chest"
    )


class _Checked:
    """A file's rows as read (`rows`: their index in the file; `t`: their times in
    seconds), and the checks every sensor's columns pass. `time_hint` says how to give
    times of the unit a `RateProblem` suspects."""

    def __init__(
        self,
        table: CsvTable,
        rows: IntArray,
        t: FloatArray,
        data: dict[str, FloatArray],
        time_column: str,
        time_hint: Callable[[RateProblem], str],
        seconds_per_tick: float = 1.0,
    ):
        self.table, self.rows, self.t, self.data = table, rows, t, data
        self.time_column, self.time_hint = time_column, time_hint
        self.seconds_per_tick = seconds_per_tick

    def refuse(self, problem: str) -> RecordingError:
        return RecordingError(self.table.path, problem)

    def line(self, i: int) -> int:
        """The file's line of row `i` of what is kept."""
        return self.table.line_of(int(self.rows[i]))

    def times(self) -> None:
        if self.t.size == 0:
            raise self.refuse("the file has a header but no rows")
        steps = np.diff(self.t)
        if np.any(steps <= 0):
            bad = int(np.argmax(steps <= 0)) + 1
            raise self.refuse(
                f"line {self.line(bad)}: the time in {self.time_column!r} does not increase "
                f"({self.t[bad - 1]:g} then {self.t[bad]:g})"
            )

    def values(
        self, sensor: str, columns: list[str], divide: float = 1.0
    ) -> tuple[FloatArray, FloatArray]:
        """(times, n×len(columns) values) of the rows where the sensor has a sample: every
        column numbers, each row all or none of them, at a plausible rate."""
        values = np.column_stack([self.data[c] for c in columns])
        nan = np.isnan(values)
        for j, col in enumerate(columns):
            if nan[:, j].all():
                raise self.refuse(f"column {col!r} holds no numbers: every row is empty")
        inf = np.isinf(values)
        if inf.any():
            i, j = np.argwhere(inf)[0]
            raise self.refuse(
                f"line {self.line(i)}, column {columns[j]!r}: {values[i, j]:g} is not a reading"
            )
        some = nan.any(axis=1) & ~nan.all(axis=1)
        if some.any():
            i = int(np.argmax(some))
            j = int(np.argmax(nan[i]))
            raise self.refuse(
                f"line {self.line(i)}, column {columns[j]!r}: empty where "
                f"{sensor}'s other columns have readings"
            )
        keep = ~nan[:, 0]
        t = self.t[keep]
        if t.size < 2:
            raise self.refuse(f"{sensor} has a single sample: a recording needs many")
        problem = rate_problem(t, self.seconds_per_tick)
        if problem is not None:
            hint = self.time_hint(problem)
            raise self.refuse(problem.words(self.time_column, sensor) + hint)
        return t, values[keep] / divide


def _xyz(s: SensorColumns, values: FloatArray) -> FloatArray:
    """A sensor's columns in the (x, y, z) order of a track: body axes ap, ml, v."""
    xyz = np.zeros((values.shape[0], 3))
    for j, axis in enumerate(s.axes):
        xyz[:, AXIS_ORDER[axis]] = values[:, j]
    return xyz


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
    table = CsvTable.open(path, EXAMPLE_HEADER)
    t_col = table.find("t_s")
    if t_col is None:
        raise RecordingError(path, f"no 't_s' column (columns: {listed(table.header)})")
    layout = motion_layout(path, table.header)
    trial_col = table.find("trial")
    extra = {
        name: col for name in [*_FOOTPOD_COLUMNS, "hr_bpm"] if (col := table.find(name)) is not None
    }
    motion = [c for s in (*layout.accel, *layout.gyro) for c in s.columns]
    wanted = [t_col, *([trial_col] if trial_col else []), *motion, *extra.values()]
    data = table.read(list(dict.fromkeys(wanted)))
    t = data[t_col]
    rows = np.arange(t.size)
    if np.isnan(t).any():
        line = table.line_of(int(np.argmax(np.isnan(t))))
        raise RecordingError(path, f"line {line}: no time in {t_col!r}")

    notes: list[str] = []
    if trial_col is not None:
        if np.isnan(data[trial_col]).any():
            line = table.line_of(int(np.argmax(np.isnan(data[trial_col]))))
            raise RecordingError(path, f"line {line}: no trial number in {trial_col!r}")
        trials = data[trial_col].astype(int)
        order = list(dict.fromkeys(trials.tolist()))
        if trial is not None:
            if trial not in order:
                raise RecordingError(
                    path, f"no trial {trial} (its trials: {listed([str(n) for n in order])})"
                )
            keep = trials == trial
            data = {k: v[keep] for k, v in data.items()}
            rows = rows[keep]
            t = data[t_col] - data[t_col][0]
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

    def time_hint(p: RateProblem) -> str:
        ms = p.looks_like == "ms"
        return f": {t_col} must be seconds, and these look like milliseconds" if ms else ""

    check = _Checked(table, rows, t, data, t_col, time_hint)
    check.times()
    placed = {k.lower(): v for k, v in (placements or {}).items()}
    names = [s.sensor for s in layout.accel]
    strays = [k for k in placed if k not in names]
    if strays:
        raise RecordingError(
            path,
            f"--placement names {strays[0]!r}, which is not a sensor of the file "
            f"(its sensors: {', '.join(names)})",
        )

    def place(sensor: str) -> Placement:
        return placed.get(sensor, placement_for(sensor))

    tracks = []
    for s in layout.accel:
        times, values = check.values(s.sensor, s.columns, G if s.unit == "ms2" else 1.0)
        xyz = _xyz(s, values)
        problem = unit_problem(xyz, sample_rate(times), s.unit)
        if problem is not None:
            fix = problem.looks_like
            rename = f"; if so, name its columns {s.renamed(fix)}" if fix else ""
            raise RecordingError(path, f"sensor {s.sensor!r}: {problem.words()}{rename}")
        tracks.append(AccelTrack(s.sensor, place(s.sensor), times, xyz))
        missing = s.missing_body_axes()
        if missing:
            words = " and ".join(f"{a} ({AXIS_WORDS[a]})" for a in missing)
            notes.append(f"{s.sensor} has no {words} axis in the file: read as 0")
        if s.sensor not in placed and not known_name(s.sensor):
            notes.append(_unknown_name_note(s.sensor))
    gyros = []
    for s in layout.gyro:
        times, values = check.values(s.sensor, s.columns)
        gyros.append(GyroTrack(s.sensor, place(s.sensor), times, _xyz(s, values)))
    notes += layout.unread_words()

    footpod = []
    fp = {f: data[extra[c]] for c, f in _FOOTPOD_COLUMNS.items() if c in extra}
    if fp:
        for i in np.flatnonzero(np.any([np.isfinite(v) for v in fp.values()], axis=0)):
            readings = {k: float(v[i]) for k, v in fp.items() if np.isfinite(v[i])}
            footpod.append(FootpodSample(float(t[i]), **readings))
    hr = data[extra["hr_bpm"]] if "hr_bpm" in extra else np.empty(0)
    heart = [HeartRateSample(float(t[i]), float(hr[i])) for i in np.flatnonzero(np.isfinite(hr))]
    return Recording(
        path.name, tuple(tracks), tuple(footpod), tuple(heart), tuple(notes), tuple(gyros), path
    )


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
    the file's column names (in any case); `unit` is the accelerometer's, ``g`` or ``ms2``;
    times are multiplied by `seconds_per_tick` (0.001 for milliseconds).
    """
    path = Path(path)
    unknown = set(columns) - set(PLAIN_ROLES)
    if unknown:
        raise RecordingError(
            path,
            f"unknown column role(s) {', '.join(sorted(unknown))}: the roles are "
            + ", ".join(PLAIN_ROLES),
        )
    missing = [r for r in ("t", "x", "y", "z") if r not in columns]
    if missing:
        raise RecordingError(path, f"say which column holds {', '.join(missing)} (--columns)")
    if unit not in ("g", "ms2"):
        raise RecordingError(path, f"unit {unit!r}: use g or ms2")
    table = CsvTable.open(path, ",".join(columns.values()))
    found = {role: table.find(col) for role, col in columns.items()}
    absent = [columns[r] for r, col in found.items() if col is None]
    if absent:
        raise RecordingError(
            path,
            f"no column(s) {', '.join(map(repr, absent))} (columns: {listed(table.header)})",
        )
    cols = {role: col for role, col in found.items() if col is not None}
    data = table.read(list(dict.fromkeys(cols.values())))
    raw_t = data[cols["t"]]
    if np.isnan(raw_t).any():
        line = table.line_of(int(np.argmax(np.isnan(raw_t))))
        raise RecordingError(path, f"line {line}: no time in {cols['t']!r}")
    t = (raw_t - raw_t[0]) * seconds_per_tick if raw_t.size else raw_t

    def time_hint(p: RateProblem) -> str:
        if p.looks_like == "ms":
            return ": if they are milliseconds, say --time-unit ms"
        if p.looks_like == "s":
            return ": if they are seconds, say --time-unit s"
        return ""

    check = _Checked(table, np.arange(t.size), t, data, cols["t"], time_hint, seconds_per_tick)
    check.times()
    name = sensor or placement.value
    accel_cols = [cols[r] for r in ("x", "y", "z")]
    times, xyz = check.values("the sensor", accel_cols, G if unit == "ms2" else 1.0)
    problem = unit_problem(xyz, sample_rate(times), unit)
    if problem is not None:
        fix = f"; if so, say --units {problem.looks_like}" if problem.looks_like else ""
        raise RecordingError(path, f"{problem.words()}{fix}")
    accel = AccelTrack(name, placement, times, xyz)
    gyro: tuple[GyroTrack, ...] = ()
    if all(r in cols for r in ("gx", "gy", "gz")):
        g_cols = [cols[r] for r in ("gx", "gy", "gz")]
        gyro = (GyroTrack(name, placement, *check.values("the gyroscope", g_cols)),)
    return Recording(path.name, (accel,), gyro=gyro, path=path)


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
