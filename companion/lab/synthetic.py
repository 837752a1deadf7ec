"""Test motion with known angles, built on a real run: chest and pelvis, with gyroscopes.

The test data has no chest recording and no gyroscope. So that the code for them can be
checked against known answers, this makes them, clearly labelled as made up:

- the body's acceleration (gravity included) is the real hip recording's, read in the body
  axes the analysis learned from it, so the steps, bounce and braking are a real runner's;
- each synthetic segment (chest, pelvis) is given an orientation over time: a posture (lean
  forward, lean to the side) plus the swings of running, one cycle per stride, timed by the
  real steps (pelvic drop and rotation for the pelvis, counter-rotation for the chest), a
  pitching once a step, plus any drift asked for;
- its sensor, mounted at any angle, then reads that acceleration turned into its own axes,
  and its gyroscope reads the rate of turn that the same orientation implies (the change
  from one sample to the next), so the two agree with each other as real ones would.

It ignores the lever arm between the segment's centre of rotation and the sensor and the
difference between the chest's and the hip's linear acceleration: real recordings will
differ in those ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from companion.form.alignment import BodyFrame
from companion.form.steps import find_steps
from sensors.recorded.recording import AccelTrack, GyroTrack
from sensors.samples import FloatArray, Placement


@dataclass(frozen=True)
class Ramp:
    """A change that fades in from `start_s`, holds, then fades out: 0 → `size` → 0."""

    start_s: float
    size: float
    ramp_s: float = 30.0
    hold_s: float = 120.0
    release_s: float = 20.0

    def at(self, t: FloatArray) -> FloatArray:
        end = self.start_s + self.ramp_s + self.hold_s + self.release_s
        rise = (t - self.start_s) / self.ramp_s
        fall = (end - t) / self.release_s
        out: FloatArray = self.size * np.clip(np.minimum(rise, fall), 0.0, 1.0)
        return out

    @property
    def full_s(self) -> float:
        """When the change reaches its full size."""
        return self.start_s + self.ramp_s


@dataclass(frozen=True)
class Segment:
    """How one body segment is held and swings, in degrees."""

    name: str
    placement: Placement
    lean_deg: float = 0.0  # forward
    side_deg: float = 0.0  # to the right
    drop_deg: float = 0.0  # range of side-to-side tilt per stride
    rotation_deg: float = 0.0  # range of turning per stride
    rock_deg: float = 0.0  # range of pitching forward and back, once a step
    lean_drift: tuple[Ramp, ...] = ()
    drop_drift: tuple[Ramp, ...] = ()  # added to the range
    rotation_drift: tuple[Ramp, ...] = ()
    rock_drift: tuple[Ramp, ...] = ()  # added to the range (a faster pace rocks more)
    mounting: FloatArray = field(default_factory=lambda: np.eye(3))  # body -> sensor axes


def stride_phase(t: FloatArray, steps: FloatArray) -> FloatArray:
    """Half a cycle per step: the angle (radians) of a once-a-stride swing."""
    phase: FloatArray = np.interp(t, steps, np.pi * np.arange(steps.size))
    return phase


def _sum(ramps: tuple[Ramp, ...], t: FloatArray) -> FloatArray:
    total: FloatArray = sum((r.at(t) for r in ramps), np.zeros_like(t))
    return total


def make_segment(hip: AccelTrack, frame: BodyFrame, seg: Segment) -> tuple[AccelTrack, GyroTrack]:
    """The accelerometer and gyroscope tracks of a sensor on `seg`, as described above."""
    t = hip.t
    fs = hip.rate_hz
    # The real body acceleration in body axes: forward, left, up.
    body = np.column_stack([hip.xyz @ frame.forward, hip.xyz @ frame.left, hip.xyz @ frame.up])
    vertical = hip.xyz @ frame.up
    steps = t[find_steps(vertical, fs)]
    phase = stride_phase(t, steps)

    # The trunk pitches forward through each stance, back in flight: once a step, in step
    # with the vertical push, which is what biases the mean acceleration.
    rock = (seg.rock_deg + _sum(seg.rock_drift, t)) / 2 * np.cos(2 * phase)
    pitch = seg.lean_deg + _sum(seg.lean_drift, t) + rock
    drop = (seg.drop_deg + _sum(seg.drop_drift, t)) / 2 * np.sin(phase)
    roll = seg.side_deg + drop  # leaning right lifts the left side: positive about forward
    yaw = (seg.rotation_deg + _sum(seg.rotation_drift, t)) / 2 * np.sin(phase + np.pi / 4)
    # Body to world: turn (yaw about up), then lean (pitch about left), then tilt (roll).
    orient = Rotation.from_euler("ZYX", np.column_stack([yaw, pitch, roll]), degrees=True)
    # What a sensor fixed to the segment reads: the world's specific force in its own axes.
    in_segment = orient.inv().apply(body)
    accel = in_segment @ seg.mounting.T

    # Rate of turn in the segment's axes, from one orientation to the next.
    step = (orient[:-1].inv() * orient[1:]).as_rotvec() * fs
    rates = np.degrees(np.vstack([step, step[-1:]]))
    gyro = rates @ seg.mounting.T
    return (
        AccelTrack(seg.name, seg.placement, t, accel),
        GyroTrack(seg.name, seg.placement, t, gyro),
    )
