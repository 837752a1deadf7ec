"""Even loudness: every phrase and earcon brought to one integrated loudness (EBU R128,
measured by pyloudnorm) under a true-peak ceiling, so each cue is as loud as the last.

A gain alone would push a peaky phrase over the ceiling, and lowering the gain instead would
leave it quieter than the others; so the peaks above the ceiling are held down by a smooth
gain (a look-ahead limiter of a few milliseconds), and the loudness measured again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

OVERSAMPLE = 4  # true peak as BS.1770 estimates it: the peak of the signal upsampled 4 times
LIMIT_S = 0.005  # the limiter's look-ahead and smoothing: short enough not to be heard
BLOCK_S = 0.4  # BS.1770's gating block; a shorter sound is measured padded with silence
# How sounds are levelled, in every cache key: what an older way levelled is made again.
LEVELLING = 2


@dataclass(frozen=True)
class Loudness:
    """The level every sound is brought to."""

    lufs: float = -16.0  # integrated loudness, as podcasts and spoken word are mastered
    peak_db: float = -1.0  # true-peak ceiling, dBTP: headroom for lossy Bluetooth codecs

    def key(self) -> str:
        """This level and how sounds are levelled, for cache keys and file names."""
        return f"{self.lufs!r}_{self.peak_db!r}_v{LEVELLING}"

    def under(self, lu: float) -> Loudness:
        """The same ceiling, `lu` quieter (a metronome under the voice)."""
        return Loudness(self.lufs - lu, self.peak_db)


def integrated(samples: npt.NDArray[np.floating], rate: int) -> float:
    """Integrated loudness in LUFS (-inf for silence)."""
    meter = _meter(rate)
    x = np.asarray(samples, dtype=np.float64)
    short = int(BLOCK_S * rate) + 1 - x.size
    if short > 0:
        x = np.concatenate([x, np.zeros(short)])
    return float(meter.integrated_loudness(x))


def true_peak_db(samples: npt.NDArray[np.floating], rate: int) -> float:
    """The true peak in dBTP (-inf for silence)."""
    from scipy.signal import resample_poly

    peak = float(np.abs(resample_poly(np.asarray(samples, np.float64), OVERSAMPLE, 1)).max())
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def normalised(samples: npt.NDArray[np.floating], rate: int, level: Loudness) -> Samples:
    """`samples` at `level`'s loudness (within a tenth of a LU), true peaks under its ceiling."""
    x = np.asarray(samples, dtype=np.float64)
    now = integrated(x, rate)
    if not np.isfinite(now):
        return x  # silence stays silence
    # The gain whose limited result meets the target. Limiting takes back some of each
    # raise, so the loudness grows with the gain, but more slowly and not smoothly: the
    # gating of a short phrase makes it step and even dip (measured: +1 dB of gain, 0.04 LU
    # quieter). A bisection keeps to its bracket through those steps, where the secant
    # method used to stall, or overshoot and leave a phrase 2.6 LU too loud.
    first = level.lufs - now
    best: tuple[float, Samples] = (np.inf, x)  # the nearest to the target so far

    def miss_at(gain_db: float) -> float:
        nonlocal best
        out = _limited(x * 10 ** (gain_db / 20), rate, level.peak_db)
        miss = level.lufs - integrated(out, rate)  # > 0: still too quiet
        if abs(miss) < best[0]:
            best = (abs(miss), out)
        return miss

    miss = miss_at(first)
    if abs(miss) >= 0.1:
        low, high = (first, first + 12.0) if miss > 0 else (first - 12.0, first)
        for _ in range(10):  # 12 dB to within about a hundredth of a dB, at most
            mid = (low + high) / 2
            miss = miss_at(mid)
            if abs(miss) < 0.1:
                break
            low, high = (mid, high) if miss > 0 else (low, mid)
    return best[1]


def _limited(x: Samples, rate: int, peak_db: float) -> Samples:
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import resample_poly

    ceiling = 10 ** ((peak_db - 0.1) / 20)  # a tenth of a dB spare for the estimate
    up = np.abs(resample_poly(x, OVERSAMPLE, 1))
    if up.max() <= ceiling:
        return x
    need = np.minimum(1.0, ceiling / np.maximum(up, 1e-12))
    # Every sample's gain is the mean of minima over a window twice as wide as the mean's,
    # so it never exceeds what any peak near it needs: smooth, and never over the ceiling.
    w = max(1, int(LIMIT_S * rate * OVERSAMPLE))
    gain = uniform_filter1d(minimum_filter1d(need, 2 * w + 1), w)
    per_sample = gain[: x.size * OVERSAMPLE].reshape(-1, OVERSAMPLE).min(axis=1)
    out: Samples = x * per_sample
    return out


_METERS: dict[int, Any] = {}


def _meter(rate: int) -> Any:
    if rate not in _METERS:
        import pyloudnorm  # imports scipy.signal: only where sound is made, never at idle

        _METERS[rate] = pyloudnorm.Meter(rate)
    return _METERS[rate]
