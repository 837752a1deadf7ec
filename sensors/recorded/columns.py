"""A recording's motion columns, ``<sensor>_<axis>_<unit>``, and what a sensor's name says.

Names are read without regard to case (``hip_x_G`` is ``hip_x_g``). A sensor has all three
axes of its own frame (``x``, ``y``, ``z``) or body axes with at least the vertical
(``v``, and ``ap``, ``ml`` where they were measured); a column that looks like an axis but
is not in the format is named, never dropped without a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sensors.recorded.csvfile import RecordingError
from sensors.samples import Placement

AXIS_ORDER = {"x": 0, "y": 1, "z": 2, "ap": 0, "ml": 1, "v": 2}
FRAME_AXES = ("x", "y", "z")
BODY_AXES = ("v", "ap", "ml")
AXIS_WORDS = {"v": "vertical", "ap": "forward-back", "ml": "side-to-side"}
UNITS = ("g", "ms2", "dps")
NOT_MOTION = ("footpod", "hr")  # their columns are readings, not axes

_COLUMN = re.compile(
    r"^(?P<sensor>[a-z][a-z0-9]*)_(?P<axis>x|y|z|v|ap|ml)_(?P<unit>g|ms2|dps)$", re.IGNORECASE
)
_LIKE_COLUMN = re.compile(r"^(?P<sensor>.+?)_(?P<axis>x|y|z|v|ap|ml)(?:_(?P<unit>[^_]*))?$", re.I)

TRUNK_NAMES: Mapping[str, Placement] = {
    **dict.fromkeys(("hip", "pelvis", "sacrum", "waist", "lowback", "lumbar"), Placement.PELVIS),
    **dict.fromkeys(("chest", "sternum", "trunk", "thorax"), Placement.CHEST),
}
LIMB_NAMES = frozenset(
    {"ankle", "foot", "feet", "shoe", "shin", "shank", "calf", "thigh", "knee", "leg"}
    | {"wrist", "arm", "forearm", "hand", "head", "neck", "shoulder"}
)


def _stems(sensor: str) -> tuple[str, ...]:
    """The name and what it is a plural or a numbered copy of: hips → hip, chest2 → chest."""
    name = sensor.lower().rstrip("0123456789")
    return (name, name[:-1]) if name.endswith("s") else (name,)


def placement_for(sensor: str) -> Placement:
    """The placement a sensor name implies (``hip``, ``hips``, ``hip2`` → pelvis; ``chest``
    → chest; anything else → other)."""
    return next((TRUNK_NAMES[s] for s in _stems(sensor) if s in TRUNK_NAMES), Placement.OTHER)


def known_off_trunk(sensor: str) -> bool:
    """A name that says the sensor sat off the trunk (an ankle), not an unknown one."""
    return any(s in LIMB_NAMES for s in _stems(sensor))


def known_name(sensor: str) -> bool:
    """A name that says where the sensor sat, on the trunk or off it."""
    return placement_for(sensor) is not Placement.OTHER or known_off_trunk(sensor)


def trunk_names() -> str:
    return ", ".join(TRUNK_NAMES)


@dataclass(frozen=True)
class SensorColumns:
    """One sensor's accelerometer or gyroscope columns."""

    sensor: str  # lower case
    unit: str  # g, ms2 or dps
    axes: dict[str, str]  # axis → the header's column

    @property
    def gyro(self) -> bool:
        return self.unit == "dps"

    @property
    def columns(self) -> list[str]:
        return list(self.axes.values())

    def missing_body_axes(self) -> list[str]:
        """Body axes the file does not have (they read 0)."""
        if "v" not in self.axes:
            return []
        return [a for a in BODY_AXES if a not in self.axes]

    def renamed(self, unit: str) -> str:
        """Its columns as they would be named in `unit`."""
        return ", ".join(c[: c.rfind("_") + 1] + unit for c in self.columns)


@dataclass(frozen=True)
class Layout:
    accel: tuple[SensorColumns, ...]
    gyro: tuple[SensorColumns, ...]
    unread: tuple[tuple[str, str, str], ...]  # (column, its sensor, why it is not read)

    def unread_words(self, sensor: str | None = None) -> list[str]:
        """Why each column that looks like an axis is not read (those of `sensor`)."""
        return [f"{c!r} is not read: {why}" for c, s, why in self.unread if sensor in (None, s)]


def _why_unread(m: re.Match[str]) -> str:
    unit = m["unit"]
    if m["sensor"].lower() in NOT_MOTION:
        return f"{m['sensor']} is not a motion sensor"
    if not re.fullmatch(r"[a-z][a-z0-9]*", m["sensor"], re.IGNORECASE):
        return "a sensor's name is letters and digits, starting with a letter"
    if not unit:
        return "it has no unit (end it in _g, _ms2, or _dps for a gyroscope)"
    return f"its unit {unit!r} is not one the format knows (g, ms2, or dps for a gyroscope)"


def _sensor(path: Path, sensor: str, found: list[tuple[str, str, str]]) -> SensorColumns:
    axes: dict[str, str] = {}
    for col, axis, _ in found:
        if axis in axes:
            raise RecordingError(
                path, f"two columns for {sensor}'s {axis} axis: {axes[axis]!r} and {col!r}"
            )
        axes[axis] = col
    units = sorted({unit for _, _, unit in found})
    if len(units) > 1:
        raise RecordingError(
            path, f"{sensor}'s columns mix units {' and '.join(units)}: {', '.join(axes.values())}"
        )
    if set(axes) & set(FRAME_AXES) and set(axes) & set(BODY_AXES):
        raise RecordingError(
            path,
            f"{sensor} mixes its own axes (x, y, z) with body axes (v, ap, ml): "
            + ", ".join(axes.values()),
        )
    return SensorColumns(sensor, units[0], axes)


def _check_axes(path: Path, s: SensorColumns, layout: Layout) -> None:
    if set(s.axes) <= set(BODY_AXES):
        missing = [] if "v" in s.axes else ["v (vertical)"]
    else:
        missing = [a for a in FRAME_AXES if a not in s.axes]
    if not missing:
        return
    kind = "a gyroscope" if s.gyro else "an accelerometer"
    unread = "".join(f"; {w}" for w in layout.unread_words(s.sensor))
    raise RecordingError(
        path,
        f"sensor {s.sensor!r} has no {' or '.join(missing)} axis (it has {', '.join(s.columns)}): "
        f"{kind} needs x, y and z, or v with ap and ml in body axes{unread}",
    )


def motion_layout(path: Path, header: Iterable[str]) -> Layout:
    """The header's accelerometers and gyroscopes, each with every axis it needs."""
    found: dict[tuple[str, bool], list[tuple[str, str, str]]] = {}
    unread: list[tuple[str, str, str]] = []
    for col in header:
        m = _COLUMN.match(col)
        if m and m["sensor"].lower() not in NOT_MOTION:
            unit = m["unit"].lower()
            key = (m["sensor"].lower(), unit == "dps")
            found.setdefault(key, []).append((col, m["axis"].lower(), unit))
            continue
        like = m or _LIKE_COLUMN.match(col)
        if like:
            unread.append((col, like["sensor"].lower(), _why_unread(like)))
    sensors = [_sensor(path, name, cols) for (name, _), cols in found.items()]
    layout = Layout(
        tuple(s for s in sensors if not s.gyro), tuple(s for s in sensors if s.gyro), tuple(unread)
    )
    if not layout.accel:
        unread_words = "".join(f"; {w}" for w in layout.unread_words())
        raise RecordingError(
            path,
            "no accelerometer columns named like 'hip_x_g' or 'sacrum_v_g' were found"
            + unread_words,
        )
    for s in sensors:
        _check_axes(path, s, layout)
    return layout
