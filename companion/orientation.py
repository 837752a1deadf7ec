"""Sensor orientation from a gyroscope and accelerometer, and the pelvis angles it gives.

The fusion itself is x-io's Fusion AHRS (the `imufusion` package): gyroscope integration
corrected slowly towards gravity. It is given the accelerometer low-passed to its gravity
part: the raw reading of a runner swings far from gravity within every stride.
What we add is the body's view of it: with the body axes learned from the running (see
`alignment`), the tilt of the left-right axis is the pelvic drop (obliquity) and the heading
of the forward axis is the pelvic rotation; their ranges over each stride are the metrics.
"""

from __future__ import annotations

import imufusion
import numpy as np
from scipy.spatial.transform import Rotation

from companion.alignment import BodyFrame
from companion.steps import segments
from sensors.samples import FloatArray


class Orientation:
    """Feeds time-matched gyroscope (deg/s) and accelerometer (g) samples to the AHRS."""

    def __init__(self, fs: float):
        self.fs = fs
        self._ahrs = imufusion.Ahrs()
        settings = imufusion.AhrsSettings()
        settings.sample_rate = fs
        settings.gain = 0.1  # the gyroscope carries each stride; gravity the long run
        settings.acceleration_rejection = 0.0  # off: what it gets is gravity already
        self._ahrs.set_settings(settings)
        self._ahrs.set_sample_period(1.0 / fs)

    def update(self, gyro_dps: FloatArray, accel_g: FloatArray) -> FloatArray:
        """Quaternions (w, x, y, z), sensor to earth, one per sample."""
        out = np.empty((gyro_dps.shape[0], 4))
        update, get = self._ahrs.update_no_magnetometer, self._ahrs.get_quaternion
        for i, (g, a) in enumerate(zip(gyro_dps.tolist(), accel_g.tolist(), strict=True)):
            update(g, a)
            out[i] = get()
        return out


def stride_ranges(
    t: FloatArray, quats: FloatArray, frame: BodyFrame, steps: FloatArray
) -> tuple[float | None, float | None]:
    """Median per-stride range (deg) of pelvic drop and of rotation between the steps.

    A stride is two steps (one of each foot); each range is taken after removing the
    straight line between the stride's ends, so slow turns and drift do not count.
    """
    first = np.searchsorted(t, steps[:-2])
    last = np.searchsorted(t, steps[2:])
    ok = last - first >= 4
    if not ok.any():
        return None, None
    first, last = first[ok], last[ok]
    sel = segments(first, last)
    turn = Rotation.from_quat(quats[sel], scalar_first=True)
    left = turn.apply(frame.left)
    forward = turn.apply(frame.forward)
    drop = np.degrees(np.arcsin(np.clip(left[:, 2], -1.0, 1.0)))
    heading = np.degrees(np.unwrap(np.arctan2(forward[:, 1], forward[:, 0])))
    lengths = last - first
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(sel.size) - np.repeat(starts, lengths)

    def ranges(angle: FloatArray) -> float:
        a0 = angle[starts]
        a1 = angle[starts + lengths - 1]
        line = np.repeat(a0, lengths) + np.repeat((a1 - a0) / (lengths - 1), lengths) * position
        flat = angle - line
        return float(
            np.median(np.maximum.reduceat(flat, starts) - np.minimum.reduceat(flat, starts))
        )

    return ranges(drop), ranges(heading)
