"""Steps and cadence from the vertical acceleration of a trunk or pelvis sensor.

Pure functions on arrays. Cadence comes from the spectral peak of the vertical signal
(refined between frequency bins), which stays on the step frequency where autocorrelation
can lock onto the stride; single steps are the peaks of the low-passed signal.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal

from sensors.samples import FloatArray

# Running cadence lives well inside 108–252 steps/min; the stride (half the step rate) and
# the second harmonic both fall outside this band.
STEP_BAND_HZ = (1.8, 4.2)
_MIN_FFT = 1 << 14


def step_frequency(v: FloatArray, fs: float, band: tuple[float, float] = STEP_BAND_HZ) -> float:
    """Dominant step frequency (Hz) of the vertical acceleration `v` sampled at `fs` Hz."""
    n = v.size
    nfft = max(_MIN_FFT, 1 << int(np.ceil(np.log2(max(n, 2)))))
    power = np.abs(np.fft.rfft((v - v.mean()) * np.hanning(n), nfft)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    in_band = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    i = int(in_band[np.argmax(power[in_band])])
    # Parabola through the log power of the peak bin and its neighbours.
    a, b, c = np.log(power[i - 1 : i + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(freqs[i] + shift * (freqs[1] - freqs[0]))


def band_power_ratio(v: FloatArray, fs: float, hz: float) -> float:
    """Share of the signal's power within ±15 % of `hz`: near 1 for steady running."""
    freqs, power = signal.periodogram(v - v.mean(), fs, window="hann")
    total = float(power[freqs > 0.5].sum())
    near = float(power[(freqs > hz * 0.85) & (freqs < hz * 1.15)].sum())
    return near / total if total > 0 else 0.0


def find_steps(v: FloatArray, fs: float, step_hz: float) -> npt.NDArray[np.intp]:
    """Sample indices of single steps: one peak of the low-passed vertical signal each."""
    cutoff = min(2.5 * step_hz, 0.45 * fs)
    sos = signal.butter(2, cutoff, fs=fs, output="sos")
    smooth = signal.sosfiltfilt(sos, v - v.mean())
    peaks, _ = signal.find_peaks(
        smooth, distance=max(1, int(0.6 * fs / step_hz)), prominence=0.3 * float(np.std(smooth))
    )
    return np.asarray(peaks, dtype=np.intp)
