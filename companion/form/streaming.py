"""Pieces for processing a stream in batches: causal filters that carry their state from one
batch to the next, and a buffer of the recent past with absolute sample numbers."""

from __future__ import annotations

import numpy as np
from scipy import signal

from sensors.samples import FloatArray


def lowpass(hz: float, fs: float, order: int = 2) -> FloatArray:
    """A Butterworth low-pass as second-order sections (capped below the Nyquist rate)."""
    sos: FloatArray = signal.butter(order, min(hz, 0.45 * fs), fs=fs, output="sos")
    return sos


class CausalFilter:
    """A causal filter that carries its state from one batch to the next."""

    def __init__(self, sos: FloatArray, first: FloatArray):
        zi = signal.sosfilt_zi(sos)
        self.sos = sos
        # Start settled on the first value, as if the signal had always been there.
        self.z = zi[..., None] * first if np.ndim(first) else zi * first

    def __call__(self, x: FloatArray) -> FloatArray:
        y, self.z = signal.sosfilt(self.sos, x, axis=0, zi=self.z)
        out: FloatArray = y
        return out


class Recent:
    """Columns of recent values, appended in batches and trimmed from the front."""

    def __init__(self, width: int):
        self.t = np.empty(0)
        self.v = np.empty((0, width))
        self.first = 0  # absolute index of the first row kept

    def add(self, t: FloatArray, v: FloatArray) -> None:
        self.t = np.concatenate([self.t, t])
        self.v = np.concatenate([self.v, v])

    def keep_after(self, t: float) -> None:
        cut = int(np.searchsorted(self.t, t))
        self.t, self.v = self.t[cut:], self.v[cut:]
        self.first += cut
