"""Steps and cadence from the vertical acceleration of a trunk or pelvis sensor.

Pure functions on arrays, used both by the streaming analysis and, on whole recordings, by
the validation:

- cadence is the spectral peak of the vertical signal in the running band (refined between
  grid points), which stays on the step frequency where autocorrelation can lock onto the
  stride;
- a step is a peak of the vertical signal low-passed at 4 Hz: on the force-plate trials
  these peaks follow each touchdown by a steady delay (5.7 ms standard deviation);
- per step: the bounce (vertical oscillation, by integrating the vertical acceleration twice
  over the step), the braking (the largest deceleration in the step) and the ground contact
  time from the peak vertical force with the spring-mass sine model (Morin et al. 2005):
  contact = π · step time / (2 · peak force in body weights).
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy import signal

from sensors.samples import FloatArray

IntArray = npt.NDArray[np.intp]

G = 9.80665  # m/s² per g
# Running cadence lives well inside 108–252 steps/min; the stride (half the step rate) and
# the second harmonic both fall outside this band.
STEP_BAND_HZ = (1.8, 4.2)
STEP_LOWPASS_HZ = 4.0
STEP_PROMINENCE_G = 0.3  # a step's peak stands this far above the dips on either side
MIN_STEP_S = 0.2  # 300 steps/min: no runner is quicker
STEP_CONTEXT_S = 0.4  # how far either side of a peak decides whether it is a step


class CadenceSpectrum:
    """The power spectrum of `n` samples at `fs` Hz, on a fine grid over the step band only.

    A matrix product with a precomputed Hann-windowed Fourier basis: a few microseconds a
    window, where a zero-padded FFT fine enough for 0.1 steps/min costs a hundred times more.
    """

    GRID_HZ = 0.02  # ten points across each half of the main lobe of a 10 s window

    def __init__(self, n: int, fs: float, band: tuple[float, float] = STEP_BAND_HZ):
        self.n, self.fs, self.band = n, fs, band
        # One grid point beyond each edge, so a peak at the edge can still be refined.
        self.freqs = np.arange(band[0] - self.GRID_HZ, band[1] + 1.5 * self.GRID_HZ, self.GRID_HZ)
        self.window = np.hanning(n)
        phase = -2j * np.pi * np.outer(np.arange(n), self.freqs) / fs
        self.basis = self.window[:, None] * np.exp(phase)

    def peak(self, v: FloatArray) -> tuple[float, float]:
        """(step frequency in Hz, share of the signal's power within ±15 % of it)."""
        hz, share = self.peaks(v[None, :])
        return float(hz[0]), float(share[0])

    def peaks(self, windows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """`peak` for each row of `windows` (shape (k, n)), in one matrix product."""
        x = windows - windows.mean(axis=1, keepdims=True)
        spectrum = x @ self.basis
        power = spectrum.real**2 + spectrum.imag**2
        rows = np.arange(x.shape[0])
        i = np.argmax(power[:, 1:-1], axis=1) + 1
        a, b, c = (np.log(power[rows, i + d] + 1e-30) for d in (-1, 0, 1))
        curve = a - 2 * b + c
        shift = np.divide(0.5 * (a - c), curve, out=np.zeros_like(curve), where=curve != 0)
        hz: FloatArray = self.freqs[i] + shift * self.GRID_HZ
        # Parseval: the one-sided spectrum integrates to fs/2 times the windowed energy.
        near = np.abs(self.freqs[None, :] - hz[:, None]) <= 0.15 * hz[:, None]
        total = np.sum((x * self.window) ** 2, axis=1)
        band = 2 * np.sum(power * near, axis=1) * self.GRID_HZ / self.fs
        share: FloatArray = np.divide(band, total, out=np.zeros_like(band), where=total > 0)
        return hz, share


def step_frequency(v: FloatArray, fs: float, band: tuple[float, float] = STEP_BAND_HZ) -> float:
    """Dominant step frequency (Hz) of the vertical acceleration `v` sampled at `fs` Hz."""
    return CadenceSpectrum(v.size, fs, band).peak(v)[0]


def step_lowpass(fs: float) -> FloatArray:
    """The causal filter whose peaks are the steps (second-order sections)."""
    sos: FloatArray = signal.butter(2, STEP_LOWPASS_HZ, fs=fs, output="sos")
    return sos


def step_peaks(smooth: FloatArray, fs: float) -> npt.NDArray[np.intp]:
    """Indices of the steps in the low-passed vertical signal (in g).

    Each decision looks at most `STEP_CONTEXT_S` either side, so a stream cut into any
    batches finds the same steps as the whole signal.
    """
    with warnings.catch_warnings():
        # A flat stretch (a sensor lying still) has peaks of no prominence: not steps.
        warnings.filterwarnings("ignore", "some peaks have a prominence of 0")
        peaks, _ = signal.find_peaks(
            smooth,
            distance=max(1, int(MIN_STEP_S * fs)),
            prominence=STEP_PROMINENCE_G,
            wlen=max(3, int(2 * STEP_CONTEXT_S * fs)),
        )
    return np.asarray(peaks, dtype=np.intp)


def find_steps(v: FloatArray, fs: float) -> npt.NDArray[np.intp]:
    """Sample indices of single steps in a whole vertical acceleration signal (in g)."""
    sos = step_lowpass(fs)
    smooth, _ = signal.sosfilt(sos, v, zi=signal.sosfilt_zi(sos) * v[0])
    return step_peaks(smooth, fs)


def segments(starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Sample indices of the segments [start, end) laid end to end."""
    lengths = ends - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.asarray(np.arange(int(lengths.sum())) + offsets, dtype=np.intp)


def _per_segment_cumsum(x: FloatArray, first: npt.NDArray[np.intp]) -> FloatArray:
    """Running sums that restart at each segment's first index in `x`."""
    total = np.cumsum(x)
    before = total[first] - x[first]
    lengths = np.diff(np.append(first, x.size))
    out: FloatArray = total - np.repeat(before, lengths)
    return out


def _segment_starts(starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp]) -> IntArray:
    """Where each segment begins once the segments are laid end to end."""
    return np.concatenate([[0], np.cumsum(ends - starts)[:-1]]).astype(np.intp)


def _centred(x: FloatArray, first: IntArray, lengths: IntArray) -> FloatArray:
    """Each segment of `x` minus its own mean."""
    out: FloatArray = x - np.repeat(np.add.reduceat(x, first) / lengths, lengths)
    return out


def step_metrics(
    vertical_g: FloatArray,
    peak_g: FloatArray,
    starts: IntArray,
    ends: IntArray,
    fs: float,
) -> tuple[FloatArray, FloatArray]:
    """Bounce (cm) and ground contact time (ms) of each step [starts, ends).

    `vertical_g` is the sensor's acceleration along the body's up axis (gravity included);
    `peak_g` is each step's low-passed vertical peak.
    """
    idx = segments(starts, ends)
    lengths = ends - starts
    first = _segment_starts(starts, ends)
    dt = 1.0 / fs
    # Over a whole step the body's vertical velocity and position come back where they
    # started, so each integral is taken about its own mean over the step.
    accel = _centred(vertical_g[idx], first, lengths) * G
    velocity = _centred(_per_segment_cumsum(accel, first) * dt, first, lengths)
    height = _per_segment_cumsum(velocity, first) * dt
    bounce = 100 * (np.maximum.reduceat(height, first) - np.minimum.reduceat(height, first))
    step_s = lengths * dt
    contact = 1000 * np.minimum(np.pi * step_s / (2 * np.maximum(peak_g, 1.0)), step_s)
    return bounce, contact


def braking_per_step(forward_g: FloatArray, starts: IntArray, ends: IntArray) -> FloatArray:
    """The largest deceleration (g) within each step, about the step's mean."""
    first = _segment_starts(starts, ends)
    centred = _centred(forward_g[segments(starts, ends)], first, ends - starts)
    braking: FloatArray = -np.minimum.reduceat(centred, first)
    return braking
