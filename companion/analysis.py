"""Streaming form analysis of one trunk or pelvis accelerometer.

Samples go in as they arrive; every `hop_s` the last `window_s` seconds are analysed and
one `WindowMetrics` comes out. No I/O, no clock: time is the samples' own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from companion.alignment import BodyFrame, estimate_body_frame
from companion.steps import band_power_ratio, find_steps, step_frequency
from sensors.samples import AccelBatch, FloatArray


@dataclass(frozen=True)
class AnalysisSettings:
    window_s: float = 10.0
    hop_s: float = 1.0
    calibration_s: float = 20.0  # steady running needed to learn the body axes
    running_sd_g: float = 0.3  # every second of a running window moves more than this
    min_step_share: float = 0.15  # share of vertical power at the step rate while running
    min_running_spm: float = 130.0  # slower is walking, which pauses the coach like a stop
    gap_s: float = 0.5  # a longer silence from the sensor breaks the signal


@dataclass(frozen=True)
class WindowMetrics:
    """What one analysis window found. Angles are relative to the aligned posture."""

    t: float  # end of the window, run seconds
    running: bool
    cadence_spm: float | None = None
    lean_deg: float | None = None  # forward tilt of the sensor's segment
    side_lean_deg: float | None = None  # tilt to the runner's right
    steps: tuple[float, ...] = ()  # times of steps first seen in this window


class Analyzer:
    """Turns a stream of accelerometer batches from one sensor into window metrics."""

    def __init__(self, settings: AnalysisSettings | None = None):
        self.settings = settings or AnalysisSettings()
        self.frame: BodyFrame | None = None
        self.fs: float | None = None
        self._t = np.empty(0)
        self._xyz = np.empty((0, 3))
        self._next_eval: float | None = None
        self._running_since: float | None = None
        self._last_step = -np.inf

    def feed(self, batch: AccelBatch) -> list[WindowMetrics]:
        s = self.settings
        if batch.t.size == 0:
            return []
        out: list[WindowMetrics] = []
        if self._t.size and batch.t[0] - self._t[-1] > s.gap_s:
            # No signal from the last sample until this batch: not running, either end.
            out.append(WindowMetrics(t=float(self._t[-1]), running=False))
            out.append(WindowMetrics(t=float(batch.t[0]), running=False))
            self._t, self._xyz = np.empty(0), np.empty((0, 3))
            self._next_eval = None
            self._running_since = None
        self._t = np.concatenate([self._t, batch.t])
        self._xyz = np.concatenate([self._xyz, batch.xyz])
        if self.fs is None and self._t.size > 10:
            self.fs = float(1.0 / np.median(np.diff(self._t)))
        if self._next_eval is None:
            self._next_eval = float(self._t[0]) + s.window_s
        while self.fs is not None and self._t[-1] >= self._next_eval:
            out.append(self._evaluate(self._next_eval))
            self._next_eval += s.hop_s
        keep = self._t > self._t[-1] - max(s.window_s, s.calibration_s) - s.hop_s
        self._t, self._xyz = self._t[keep], self._xyz[keep]
        return out

    def _evaluate(self, end: float) -> WindowMetrics:
        s = self.settings
        assert self.fs is not None
        fs = self.fs
        start = end - s.window_s
        sel = (self._t > start) & (self._t <= end)
        t, xyz = self._t[sel], self._xyz[sel]
        if not self._is_running(t, xyz, start, end):
            self._running_since = None
            return WindowMetrics(t=end, running=False)

        mean = xyz.mean(axis=0)
        vertical = (xyz - mean) @ (mean / np.linalg.norm(mean))
        hz = step_frequency(vertical, fs)
        if 60.0 * hz < s.min_running_spm or band_power_ratio(vertical, fs, hz) < s.min_step_share:
            self._running_since = None
            return WindowMetrics(t=end, running=False)
        if self._running_since is None:
            self._running_since = start

        steps = t[find_steps(vertical, fs, hz)]
        edge = 0.25  # zero-phase filtering is unreliable at the window's ends
        fresh = steps[(steps > self._last_step + 0.5 / hz) & (steps < end - edge)]
        if fresh.size:
            self._last_step = float(fresh[-1])

        if self.frame is None and end - self._running_since >= s.calibration_s:
            cal = self._t > end - s.calibration_s
            self.frame = estimate_body_frame(self._xyz[cal], fs, hz)
        lean = side = None
        if self.frame is not None:
            lean, side = self.frame.tilt_deg(mean)
        return WindowMetrics(
            t=end,
            running=True,
            cadence_spm=60.0 * hz,
            lean_deg=lean,
            side_lean_deg=side,
            steps=tuple(float(x) for x in fresh),
        )

    def _is_running(self, t: FloatArray, xyz: FloatArray, start: float, end: float) -> bool:
        s = self.settings
        assert self.fs is not None
        if t.size < 0.95 * s.window_s * self.fs:
            return False  # part of the window is missing
        magnitude = np.linalg.norm(xyz, axis=1)
        seconds = np.floor(t - start).astype(int)
        counts = np.bincount(seconds)
        sums = np.bincount(seconds, magnitude)
        squares = np.bincount(seconds, magnitude**2)
        full = counts > 1
        var = squares[full] / counts[full] - (sums[full] / counts[full]) ** 2
        return bool(np.all(var >= s.running_sd_g**2))
