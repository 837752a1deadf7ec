"""Made-up form faults added to a real recording, for the demo and for validation.

The bundled run holds no posture fault, so the demo adds one, clearly labelled: the
sensor's segment tips forward by a few degrees (what a hip or pelvis sensor sees when the
pelvis tips forward; a chest sensor when the trunk leans) and steps get longer, i.e. the
cadence drops, as in overstriding. The validation adds the others one at a time: more
bounce, harder braking. Each fades in, holds, and fades out as the runner corrects.

The tilt turns every sample (gravity and motion alike) about the body's left-right axis, as
a real tilt of the sensor would; the longer steps are the recording played a little slower
over the fault (time stretched, so the run after it ends a little later); more bounce and
braking are the body's own up-down and fore-aft accelerations made larger by a factor,
which makes the height of each step and its deceleration larger by the same factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.ndimage import uniform_filter1d

from sensors.recorded.recording import AccelTrack
from sensors.samples import FloatArray


@dataclass(frozen=True)
class FormFault:
    start_s: float
    ramp_s: float = 40.0
    hold_s: float = 90.0
    release_s: float = 20.0
    tilt_deg: float = 6.0  # forward tilt at full strength
    step_lengthening: float = 0.06  # cadence drops by this fraction at full strength
    bounce_gain: float = 0.0  # vertical motion grows by this fraction at full strength
    braking_gain: float = 0.0  # fore-aft motion grows by this fraction at full strength
    forward_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)  # sensor axis pointing forward

    @property
    def end_s(self) -> float:
        return self.start_s + self.ramp_s + self.hold_s + self.release_s

    def strength(self, t: FloatArray) -> FloatArray:
        """0 before and after the fault, 1 while it is held, linear ramps between."""
        rise = (t - self.start_s) / self.ramp_s if self.ramp_s else (t >= self.start_s) * 1.0
        fall = (self.end_s - t) / self.release_s if self.release_s else (t <= self.end_s) * 1.0
        return np.clip(np.minimum(rise, fall), 0.0, 1.0)

    def describe(self, segment: str = "the sensor's segment") -> str:
        parts = []
        if self.tilt_deg:
            parts.append(f"{segment} tips forward by up to {self.tilt_deg:g}°")
        if self.step_lengthening:
            parts.append(
                f"steps lengthen by up to {100 * self.step_lengthening:g}% (cadence drops, "
                "and the slower steps bounce higher)"
            )
        if self.bounce_gain:
            parts.append(f"the bounce grows by up to {100 * self.bounce_gain:g}%")
        if self.braking_gain:
            parts.append(f"braking grows by up to {100 * self.braking_gain:g}%")
        return (
            f"Injected for the demo (not in the runner's data): {' and '.join(parts)}, "
            f"fading in over {self.ramp_s:g} s, held {self.hold_s:g} s, corrected over "
            f"{self.release_s:g} s."
        )


def _rotate(v: FloatArray, axis: FloatArray, angle: FloatArray) -> FloatArray:
    """Rodrigues' rotation of each row of `v` about the unit `axis` by its own `angle`."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    turned: FloatArray = v * c + np.cross(axis, v) * s + np.outer(v @ axis, axis) * (1 - c)
    return turned


def inject_fault(track: AccelTrack, fault: FormFault) -> AccelTrack:
    t = track.t
    dt = float(np.median(np.diff(t)))
    # Stretch time: read the recording at tau(t), which slows by `step_lengthening`.
    lag = fault.step_lengthening * (fault.ramp_s / 2 + fault.hold_s + fault.release_s / 2)
    out_t = np.concatenate([t, t[-1] + dt * np.arange(1, int(np.ceil(lag / dt)) + 1)])
    slowed = np.cumsum(fault.strength(out_t)) * dt * fault.step_lengthening
    tau = out_t - np.concatenate([[0.0], slowed[:-1]])
    before = out_t < fault.start_s
    xyz = np.empty((out_t.size, 3))
    xyz[before] = track.xyz[: int(before.sum())]
    xyz[~before] = CubicSpline(t, track.xyz)(tau[~before])

    # The body's axes, from gravity just before the fault and the given forward axis.
    recent = (t > fault.start_s - 60) & (t < fault.start_s)
    gravity = track.xyz[recent].mean(axis=0)
    up = gravity / np.linalg.norm(gravity)
    forward = np.asarray(fault.forward_axis, dtype=float)
    forward = forward - (forward @ up) * up
    forward /= np.linalg.norm(forward)
    left = np.cross(up, forward)
    strength = fault.strength(out_t)
    for gain, axis in ((fault.bounce_gain, up), (fault.braking_gain, forward)):
        if gain:
            # The motion about its mean over the last two seconds: gravity's share of the
            # axis moves with the runner's own posture, and a stop's is not a run's.
            along = xyz @ axis
            mean = uniform_filter1d(along, size=max(1, round(2.0 / dt)), origin=0)
            xyz += np.outer(gain * strength * (along - mean), axis)
    # Tipping forward moves the reading of gravity backward: a negative turn about left.
    angle = -np.radians(fault.tilt_deg) * strength
    xyz = _rotate(xyz, left, angle)
    return AccelTrack(track.sensor, track.placement, out_t, xyz)
