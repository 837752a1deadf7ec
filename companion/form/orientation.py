"""Sensor orientation from a gyroscope and accelerometer, and the pelvis angles it gives.

The fusion itself is x-io's Fusion AHRS (the `imufusion` package): gyroscope integration
corrected slowly towards gravity. It is given the accelerometer low-passed to its gravity
part: the raw reading of a runner swings far from gravity within every stride (near zero g
in flight), which pulls the filter off by tens of degrees (measured on the test motion).

It runs at about 25 Hz, on the gyroscope averaged over each block of samples: the mean rate
over a block is what turns the sensor over that block. A swing of once a stride is then
sampled 14 times or more (up to 210 steps/min), which reads its range at most 2.4 % short,
the same way every stride, so that changes against the runner's own baseline are unaffected;
the loop over the filter's samples is the costliest part of the 6-axis analysis.

What we add is the body's view: with the body axes learned from the running (`alignment`),
the tilt of the left-right axis is the pelvic drop (obliquity) and the heading of the
forward axis is the rotation; their ranges over each stride are the metrics.
"""

from __future__ import annotations

import imufusion
import numpy as np
from scipy.spatial.transform import Rotation

from companion.form.alignment import BodyFrame
from companion.form.steps import IntArray, segments
from sensors.samples import FloatArray

FUSION_RATE_HZ = 25.0


class Orientation:
    """Feeds time-matched gyroscope (deg/s) and gravity (g) samples to the AHRS."""

    def __init__(self, fs: float):
        self.block = max(1, round(fs / FUSION_RATE_HZ))
        rate = fs / self.block
        self._ahrs = imufusion.Ahrs()
        settings = imufusion.AhrsSettings()
        settings.sample_rate = rate
        settings.gain = 0.1  # the gyroscope carries each stride; gravity the long run
        settings.acceleration_rejection = 0.0  # off: what it gets is gravity already
        self._ahrs.set_settings(settings)
        self._ahrs.set_sample_period(1.0 / rate)
        self._left = (np.empty(0), np.empty((0, 3)), np.empty((0, 3)))  # an unfinished block

    def update(
        self, t: FloatArray, gyro_dps: FloatArray, gravity_g: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(times, quaternions w x y z from sensor to earth), one per finished block."""
        t0, g0, a0 = self._left
        t, gyro_dps, gravity_g = (
            np.concatenate([t0, t]),
            np.concatenate([g0, gyro_dps]),
            np.concatenate([a0, gravity_g]),
        )
        n = t.size // self.block * self.block
        self._left = (t[n:], gyro_dps[n:], gravity_g[n:])
        b = self.block
        times = t[:n].reshape(-1, b).mean(axis=1)
        rates = gyro_dps[:n].reshape(-1, b, 3).mean(axis=1)
        gravity = gravity_g[b // 2 : n : b]
        quats = []
        update, get = self._ahrs.update_no_magnetometer, self._ahrs.get_quaternion
        for g, a in zip(rates.tolist(), gravity.tolist(), strict=True):
            update(g, a)
            quats.append(get())
        return times, np.array(quats).reshape(-1, 4)


def body_angles(quats: FloatArray, frame: BodyFrame) -> tuple[FloatArray, FloatArray]:
    """(drop: tilt of the body's left axis, heading of its forward axis), degrees."""
    turn = Rotation.from_quat(quats, scalar_first=True)
    left = turn.apply(frame.left)
    forward = turn.apply(frame.forward)
    drop = np.degrees(np.arcsin(np.clip(left[:, 2], -1.0, 1.0)))
    heading = np.degrees(np.arctan2(forward[:, 1], forward[:, 0]))
    return drop, heading


def stride_ranges(first: IntArray, last: IntArray, angles: FloatArray) -> FloatArray:
    """Range of each column of `angles` over each stride [first, last] (indices), after
    taking away the straight line between the stride's ends, so slow turns do not count."""
    lengths = last - first + 1
    sel = segments(first, last + 1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(sel.size) - np.repeat(starts, lengths)
    a0, a1 = angles[first], angles[last]
    slope = (a1 - a0) / (lengths - 1)[:, None]
    flat = (
        angles[sel]
        - np.repeat(a0, lengths, axis=0)
        - np.repeat(slope, lengths, axis=0) * position[:, None]
    )
    ranges: FloatArray = np.maximum.reduceat(flat, starts) - np.minimum.reduceat(flat, starts)
    return ranges
