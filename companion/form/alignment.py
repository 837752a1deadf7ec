"""Sensor-to-body alignment: which way is up, forward and left in the sensor's own axes.

Nothing is assumed about how the sensor was mounted:

- up is the mean acceleration while running (the body's mean acceleration is zero, so what
  is left is gravity);
- the forward-backward axis is the horizontal direction that moves most at the step
  frequency (side to side sway repeats once per stride, half as often);
- forward, rather than backward, is the direction that decelerates as the vertical
  acceleration rises at each landing: the braking half of stance. On the sacral treadmill
  recordings with a known axis convention this holds in every one of the 25 trials.

Tilts are then read from the direction of gravity in a window, relative to the posture the
alignment was learned in (absolute angles of a body-worn sensor validate poorly; changes
within one session are what the coach uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from sensors.samples import FloatArray


@dataclass(frozen=True)
class BodyFrame:
    """Unit vectors of the body's axes in sensor coordinates (a right-handed set)."""

    up: FloatArray
    forward: FloatArray
    left: FloatArray
    sign_r: float = 1.0  # how clearly the stretch said which way is forward (|correlation|)

    def tilt_deg(self, gravity: FloatArray) -> tuple[float, float]:
        """(forward lean, lean to the right) in degrees for a mean acceleration vector.

        Leaning forward turns the sensor's up axis forward, so true up, and the reading,
        move backward in sensor coordinates.
        """
        g_up = float(gravity @ self.up)
        pitch = np.degrees(np.arctan2(-float(gravity @ self.forward), g_up))
        roll = np.degrees(np.arctan2(float(gravity @ self.left), g_up))
        return float(pitch), float(roll)

    def flipped(self) -> BodyFrame:
        """The same axes with forward and backward swapped."""
        return BodyFrame(self.up, -self.forward, -self.left, self.sign_r)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [round(float(x), 4) for x in getattr(self, k)] for k in ("up", "forward")}


def _unit(v: FloatArray) -> FloatArray:
    return v / np.linalg.norm(v)


def estimate_body_frame(xyz: FloatArray, fs: float, step_hz: float) -> BodyFrame:
    """Body axes from a stretch of steady running (a few tens of seconds is plenty)."""
    mean = xyz.mean(axis=0)
    up = _unit(mean)
    moving = xyz - mean
    vertical = moving @ up
    horizontal = moving - np.outer(vertical, up)

    lo, hi = 0.8 * step_hz, min(1.2 * step_hz, 0.45 * fs)
    band = signal.butter(2, [lo, hi], btype="bandpass", fs=fs, output="sos")
    at_step_rate = signal.sosfiltfilt(band, horizontal, axis=0)
    _, vectors = np.linalg.eigh(np.cov(at_step_rate.T))
    forward = vectors[:, -1]
    forward = _unit(forward - (forward @ up) * up)

    # Braking: forward acceleration falls while vertical acceleration climbs at landing.
    smooth = signal.butter(2, min(8.0, 0.45 * fs), fs=fs, output="sos")
    rising = np.gradient(signal.sosfiltfilt(smooth, vertical))
    along = signal.sosfiltfilt(smooth, horizontal @ forward)
    r = float(np.corrcoef(along, rising)[0, 1]) if along.std() and rising.std() else 0.0
    if r > 0:
        forward = -forward
    return BodyFrame(up=up, forward=forward, left=np.cross(up, forward), sign_r=abs(r))
