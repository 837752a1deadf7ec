"""Streaming form analysis of one trunk or pelvis sensor: its steps, and a window each second.

Samples go in as they arrive. Filters are causal and keep their state, and every decision
looks only a fixed distance ahead, so a stream cut into any batches gives the same result as
the whole recording, and the cost of a new sample does not grow with the run. Every `hop_s`
the last `window_s` seconds become one `TrunkWindow`: windows end on whole multiples of the
hop, so the windows of several sensors line up. No I/O, no clock: time is the samples' own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from companion.form.alignment import BodyFrame, estimate_body_frame
from companion.form.orientation import FUSION_RATE_HZ, Orientation, body_angles, stride_ranges
from companion.form.record import Step
from companion.form.steps import (
    STEP_CONTEXT_S,
    CadenceSpectrum,
    braking_per_step,
    step_lowpass,
    step_metrics,
    step_peaks,
)
from companion.form.streaming import CausalFilter, Recent, lowpass
from sensors.samples import AccelBatch, FloatArray, GyroBatch, Placement


@dataclass(frozen=True)
class AnalysisSettings:
    window_s: int = 10
    hop_s: int = 1
    calibration_s: float = 20.0  # steady running the body axes are learned from
    sign_votes: int = 3  # stretches in a row that must agree on which way is forward
    sign_min_r: float = 0.1  # a stretch less clear than this about it has no say
    recheck_s: float = 60.0  # the body axes are estimated again this often, and after stops
    running_sd_g: float = 0.3  # every second of a running window moves more than this
    min_step_share: float = 0.15  # share of vertical power at the step rate while running
    min_running_spm: float = 130.0  # slower is walking, which pauses the coach like a stop
    gap_s: float = 0.5  # a longer silence from the sensor breaks the signal
    max_step_s: float = 0.6  # a longer step is a stop or a missed step: no step metrics
    cadence_rate_hz: float = 25.0  # the vertical signal is decimated to this for the spectrum
    sensor_wait_s: float = 3.0  # how long the windows of one sensor wait for the others'


@dataclass(frozen=True)
class TrunkWindow:
    """What one window of one sensor found. Angles are relative to the aligned posture."""

    t: float  # end of the window, run seconds
    sensor: str
    placement: Placement
    running: bool
    cadence_spm: float | None = None
    step_time_cv_pct: float | None = None  # variability of stride time (two steps)
    bounce_cm: float | None = None  # vertical oscillation per step (median)
    braking_g: float | None = None  # peak deceleration in a step (median)
    contact_ms: float | None = None  # ground contact time per step (median)
    lean_deg: float | None = None  # forward tilt of the sensor's segment
    side_lean_deg: float | None = None  # tilt to the runner's right
    pelvic_drop_deg: float | None = None  # range of side-to-side tilt per stride (gyroscope)
    rotation_deg: float | None = None  # range of turning per stride (gyroscope)
    forward_turn_deg: float | None = None  # the forward axis, estimated again, turned by
    steps: tuple[Step, ...] = ()  # steps first seen in this window


class _Signal:
    """The per-sample state of one unbroken stretch of signal (a gap starts a new one)."""

    def __init__(self, fs: float, first: FloatArray, s: AnalysisSettings):
        self.up = CausalFilter(lowpass(0.2, fs, order=1), first)  # gravity's direction
        v0 = float(np.linalg.norm(first))
        self.step = CausalFilter(step_lowpass(fs), np.asarray(v0))
        self.smooth = CausalFilter(lowpass(8.0, fs), first)
        self.q = max(1, round(fs / s.cadence_rate_hz))
        self.decimate = CausalFilter(lowpass(0.4 * fs / self.q, fs, order=4), np.asarray(v0))
        self.count = 0  # samples seen: which ones the decimation keeps


# Columns of the sample buffer and of the step table.
_X, _Y, _Z, _V, _LP, _SX, _SY, _SZ, _GX, _GY, _GZ = range(11)
_ST, _SINT, _SBOUNCE, _SBRAKE, _SCONTACT, _SFROM, _STO, _SDROP, _SROT = range(9)
_STEP_COLUMNS = 9
_XYZ = (_X, _Y, _Z)


def _step(row: FloatArray) -> Step:
    def known(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return Step(
        float(row[_ST]),
        known(row[_SINT]),
        known(row[_SBOUNCE]),
        known(row[_SBRAKE]),
        known(row[_SCONTACT]),
    )


class TrunkAnalyzer:
    """Turns one sensor's accelerometer (and gyroscope) batches into windows of metrics."""

    def __init__(self, sensor: str, placement: Placement, settings: AnalysisSettings | None = None):
        self.sensor, self.placement = sensor, placement
        self.settings = settings or AnalysisSettings()
        self.frame: BodyFrame | None = None  # once forward is settled
        self._frame_t = np.inf  # end of the window the body axes were learned in
        self._candidate: BodyFrame | None = None  # the axes while forward is being settled
        self._votes: list[int] = []  # the latest stretches' say on forward, against the candidate
        self._against = 0  # stretches in a row since that said forward is the other way
        self._next_check = -np.inf  # when the body axes are next estimated
        self._relearn_from = -np.inf  # the axes are learned from running after this
        self._turn: float | None = None  # for the next window
        self.fs: float | None = None
        self._sig: _Signal | None = None
        self._spectrum: CadenceSpectrum | None = None
        self._samples = Recent(11)
        self._decimated = Recent(1)
        self._seconds: dict[int, FloatArray] = {}  # second -> n, Σ|a|, Σ|a|², Σx, Σy, Σz
        self._steps = np.empty((0, _STEP_COLUMNS))
        self._decided = -np.inf  # steps up to here are settled
        self._last_step = -1  # absolute sample index of the last step, -1 for none
        self._reported = -np.inf
        self._next_eval: float | None = None
        self._running_since: float | None = None
        self._early: list[AccelBatch] = []
        self._pending_gyro: list[GyroBatch] = []
        self._fused_until = -np.inf
        self._first_t = np.inf  # the first sample's time
        self._orientation: Orientation | None = None
        self._turns = Recent(7)  # quaternions from the gyroscope, and the motion at each
        self._angles = Recent(2)  # the body's drop and heading, once the axes are known
        self._last_t: float | None = None

    # -- input -------------------------------------------------------------------------
    def frame_by(self, t: float) -> BodyFrame | None:
        """The body axes, if they were learned by run time `t` (a window's end): however
        the samples were batched, the same window first has them."""
        return self.frame if t >= self._frame_t else None

    def feed(self, batch: AccelBatch) -> list[TrunkWindow]:
        s = self.settings
        if batch.t.size == 0:
            return []
        out: list[TrunkWindow] = []
        if self._last_t is not None and batch.t[0] - self._last_t > s.gap_s:
            out += self._gap(self._last_t, float(batch.t[0]))
        self._last_t = float(batch.t[-1])
        if self.fs is None:
            # The rate is measured from the first samples; until then they wait.
            self._early.append(batch)
            t = np.concatenate([b.t for b in self._early])
            if t.size < 16:
                return out
            self.fs = float(1.0 / np.median(np.diff(t)))
            xyz = np.concatenate([b.xyz for b in self._early])
            self._early = []
            return out + self._ingest(t, xyz)
        return out + self._ingest(batch.t, batch.xyz)

    def feed_gyro(self, batch: GyroBatch) -> list[TrunkWindow]:
        """Gyroscope samples are fused once the accelerometer has caught up with them (any
        before the accelerometer's first samples have nothing to be fused with)."""
        if not batch.t.size or self.fs is None:
            return []
        self._pending_gyro.append(batch)
        self._fuse()
        return self._ready()

    def _gap(self, last: float, resume: float) -> list[TrunkWindow]:
        """No signal between two samples: not running, either end; filters start again."""
        self._sig = None
        if self.frame is not None:
            self._next_check = -np.inf  # the sensor may have been taken off
        self._samples = Recent(11)
        self._decimated = Recent(1)
        self._seconds.clear()
        self._last_step = -1
        self._decided = -np.inf
        self._next_eval = None
        self._running_since = None
        self._orientation = None
        self._turns = Recent(7)
        self._angles = Recent(2)
        return [
            TrunkWindow(t=last, sensor=self.sensor, placement=self.placement, running=False),
            TrunkWindow(t=resume, sensor=self.sensor, placement=self.placement, running=False),
        ]

    def _ingest(self, t: FloatArray, xyz: FloatArray) -> list[TrunkWindow]:
        s = self.settings
        assert self.fs is not None
        if self._sig is None:
            self._sig = _Signal(self.fs, xyz[0], s)
            self._first_t = min(self._first_t, float(t[0]))
        sig = self._sig
        gravity = sig.up(xyz)
        up = gravity / np.linalg.norm(gravity, axis=1)[:, None]
        vertical = np.einsum("ij,ij->i", xyz, up)
        smooth_v = sig.step(vertical)
        smooth = sig.smooth(xyz)
        self._samples.add(t, np.column_stack([xyz, vertical, smooth_v, smooth, gravity]))

        # Decimated vertical signal for the cadence spectrum, keeping the phase across batches.
        low = sig.decimate(vertical)
        pick = np.flatnonzero((sig.count + np.arange(t.size)) % sig.q == 0)
        self._decimated.add(t[pick], low[pick, None])
        sig.count += t.size

        self._add_seconds(t, xyz)
        self._find_steps()
        self._fuse()
        if self._next_eval is None:
            self._next_eval = float(np.ceil((t[0] + s.window_s) / s.hop_s) * s.hop_s)
        out = self._ready()
        self._trim(float(t[-1]))
        return out

    def flush(self) -> list[TrunkWindow]:
        """The stream has ended: the windows still waiting for the gyroscope."""
        self._fuse()
        return self._ready(final=True)

    def _ready(self, final: bool = False) -> list[TrunkWindow]:
        """The windows whose steps are settled and, with a gyroscope, whose rotations are in
        (waiting for it no longer than `sensor_wait_s`)."""
        s = self.settings
        if self._next_eval is None or not self._samples.t.size:
            return []
        until = self._decided
        if self._orientation is not None and not final:
            until = min(until, max(self._fused_until, self._samples.t[-1] - s.sensor_wait_s))
        count = int(np.floor((until - self._next_eval) / s.hop_s)) + 1
        ends = self._next_eval + s.hop_s * np.arange(max(count, 0), dtype=np.float64)
        self._next_eval += s.hop_s * ends.size
        return self._evaluate_all(ends) if ends.size else []

    def _add_seconds(self, t: FloatArray, xyz: FloatArray) -> None:
        magnitude = np.linalg.norm(xyz, axis=1)
        second = np.floor(t).astype(np.int64)
        first = int(second[0])
        slot = second - first
        sums = np.column_stack(
            [np.bincount(slot, w, minlength=int(slot[-1]) + 1)
             for w in (None, magnitude, magnitude**2, xyz[:, 0], xyz[:, 1], xyz[:, 2])]
        )  # fmt: skip
        for k in np.flatnonzero(sums[:, 0]):
            key = first + int(k)
            row = sums[k]
            self._seconds[key] = self._seconds[key] + row if key in self._seconds else row

    def _find_steps(self) -> None:
        assert self.fs is not None
        buf = self._samples
        end = float(buf.t[-1]) - STEP_CONTEXT_S
        if end <= self._decided:
            return
        lo = int(np.searchsorted(buf.t, max(self._decided, buf.t[0]) - 2 * STEP_CONTEXT_S))
        peaks = lo + step_peaks(buf.v[lo:, _LP], self.fs)
        times = buf.t[peaks]
        new = peaks[(times > self._decided) & (times <= end)]
        self._decided = end
        if new.size == 0:
            return
        now = new + buf.first  # absolute sample indices
        before = np.concatenate([[self._last_step], now[:-1]])
        self._last_step = int(now[-1])
        rows = np.full((new.size, _STEP_COLUMNS), np.nan)
        rows[:, _ST] = buf.t[new]
        ok = (before >= buf.first) & (now - before <= self.settings.max_step_s * self.fs)
        if ok.any():
            starts, ends = before[ok] - buf.first, now[ok] - buf.first
            bounce, contact = step_metrics(buf.v[:, _V], buf.v[ends, _LP], starts, ends, self.fs)
            rows[ok, _SINT] = (ends - starts) / self.fs
            rows[ok, _SBOUNCE] = bounce
            rows[ok, _SCONTACT] = contact
            rows[ok, _SFROM], rows[ok, _STO] = before[ok], now[ok]
        self._steps = np.concatenate([self._steps, rows])

    def _fuse(self) -> None:
        """Run the AHRS over gyroscope samples the accelerometer buffer already covers."""
        buf = self._samples
        while self._pending_gyro and buf.t.size:
            batch = self._pending_gyro[0]
            if batch.t[-1] > buf.t[-1]:
                return
            self._pending_gyro.pop(0)
            inside = batch.t >= buf.t[0]
            t, rates = batch.t[inside], batch.xyz[inside]
            if t.size < 2:
                continue
            if self._orientation is None:
                self._orientation = Orientation(float(1.0 / np.median(np.diff(t))))
            # The gravity estimate, not the raw reading: within a stride the specific force
            # is far from gravity (near zero in flight), which pulls the AHRS off by tens of
            # degrees; its mean over seconds is gravity.
            accel = np.column_stack([np.interp(t, buf.t, buf.v[:, i]) for i in (_GX, _GY, _GZ)])
            times, quats = self._orientation.update(t, rates, accel)
            motion = np.column_stack([np.interp(times, buf.t, buf.v[:, i]) for i in _XYZ])
            self._turns.add(times, np.column_stack([quats, motion]))
            self._fused_until = float(t[-1])

    # -- windows -----------------------------------------------------------------------
    def _evaluate_all(self, ends: FloatArray) -> list[TrunkWindow]:
        """The windows ending at `ends`: what can be, for all of them at once (per-second
        statistics, the cadence spectra), then each in turn."""
        s = self.settings
        assert self.fs is not None and self._sig is not None
        fs = self.fs
        # Per-second counts and sums over every second any of the windows covers.
        lo, hi = int(ends[0]) - s.window_s, int(ends[-1])
        stats = np.zeros((hi - lo, 6))
        for k in range(lo, hi):
            row = self._seconds.get(k)
            if row is not None:
                stats[k - lo] = row
        n = stats[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            var = stats[:, 2] / n - (stats[:, 1] / n) ** 2
        moving = (n > 1) & (var >= s.running_sd_g**2)
        totals = np.vstack([np.zeros(7), np.cumsum(np.column_stack([stats, moving]), axis=0)])
        a, b = ends.astype(int) - s.window_s - lo, ends.astype(int) - lo
        sums = totals[b] - totals[a]  # per window: n, Σ|a|, Σ|a|², Σxyz, seconds moving
        steady = (sums[:, 6] == s.window_s) & (sums[:, 0] >= 0.95 * s.window_s * fs)

        # The cadence spectrum of each window's decimated vertical signal.
        need = round(s.window_s * fs / self._sig.q)
        if self._spectrum is None or self._spectrum.n != need:
            self._spectrum = CadenceSpectrum(need, fs / self._sig.q)
        j = np.searchsorted(self._decimated.t, ends, side="right")
        full = j >= need
        hz = np.zeros(ends.size)
        share = np.zeros(ends.size)
        if full.any():
            rows = j[full, None] - need + np.arange(need)
            hz[full], share[full] = self._spectrum.peaks(self._decimated.v[rows, 0])
        steady &= full
        return [
            self._evaluate(float(e), bool(ok), sums[i, 3:6] / max(sums[i, 0], 1.0), hz[i], share[i])
            for i, (e, ok) in enumerate(zip(ends, steady, strict=True))
        ]

    def _evaluate(
        self, end: float, steady: bool, mean: FloatArray, hz: float, share: float
    ) -> TrunkWindow:
        s = self.settings
        assert self.fs is not None
        fs = self.fs
        start = end - s.window_s
        idle = TrunkWindow(t=end, sensor=self.sensor, placement=self.placement, running=False)
        if not steady or 60.0 * hz < s.min_running_spm or share < s.min_step_share:
            if self._running_since is not None and self.frame is not None:
                self._next_check = -np.inf  # the sensor may be touched while stopped
            self._running_since = None
            return idle
        if self._running_since is None:
            self._running_since = start

        buf = self._samples
        since = max(self._running_since, self._relearn_from)
        if end - since >= s.calibration_s and end >= self._next_check:
            cal = (buf.t > end - s.calibration_s) & (buf.t <= end)
            self._check_frame(end, estimate_body_frame(buf.v[cal][:, _X : _Z + 1], fs, hz))
        lean = side = None
        if self.frame is not None:
            lean, side = self.frame.tilt_deg(self._steady_gravity(start, end, mean))

        # The step table is in time order: the window's steps are one slice of it.
        first, last = np.searchsorted(self._steps[:, _ST], (start, end), side="right")
        steps = self._steps[first:last]
        pending = steps[steps[:, _ST] > self._frame_t]
        covered = pending[:, _ST] <= (self._turns.t[-1] if self._turns.t.size else -np.inf)
        if np.isnan(pending[:, _SBRAKE]).any() or np.isnan(pending[covered, _SDROP]).any():
            # Metrics that need the body axes, for every step since they were learned that
            # does not have them yet (in one go: the values do not depend on when).
            self._braking()
            self._stride_angles()
            steps = self._steps[first:last]
        cv = bounce = braking = contact = drop = rotation = None
        if np.count_nonzero(np.isfinite(steps[:, _SINT])) >= 4:
            # Per step, a sensor off the body's midline sees its own leg's landings apart
            # from the other's; a median over a mix of the two jumps between them as the
            # window moves. Each pair of consecutive steps is one of each.
            each = steps[:, [_SBOUNCE, _SBRAKE, _SCONTACT]]
            pairs = 0.5 * (each[1:] + each[:-1])
            medians = _column_medians(np.column_stack([pairs, steps[1:, [_SDROP, _SROT]]]))
            bounce, braking, contact, drop, rotation = (
                float(m) if np.isfinite(m) else None for m in medians
            )
            # Timed over strides for the same reason: the two legs' landings peak at
            # different points of their steps, which alternates the step times (on one
            # hip 0.31 and 0.38 s for a 0.343 s step) while each pair adds up.
            intervals = steps[:, _SINT]
            strides = intervals[1:] + intervals[:-1]
            typical = float(_column_medians(strides[:, None])[0])
            even = strides[np.abs(strides - typical) < 0.3 * typical]  # NaN is not
            cv = float(100 * even.std() / even.mean()) if even.size >= 4 else None

        fresh = steps[steps[:, _ST] > self._reported]
        self._reported = end
        turn, self._turn = self._turn, None
        return TrunkWindow(
            t=end,
            sensor=self.sensor,
            placement=self.placement,
            running=True,
            cadence_spm=60.0 * hz,
            step_time_cv_pct=cv,
            bounce_cm=bounce,
            braking_g=braking,
            contact_ms=contact,
            lean_deg=lean,
            side_lean_deg=side,
            pelvic_drop_deg=drop,
            rotation_deg=rotation,
            forward_turn_deg=turn,
            steps=tuple(_step(row) for row in fresh),
        )

    def _steady_gravity(self, start: float, end: float, mean: FloatArray) -> FloatArray:
        """Gravity in the sensor's axes over the window. The trunk pitches with every step,
        in time with the push, so the mean reading leans with how much it rocks (a faster
        pace rocks more); with a gyroscope each reading is first turned back to where the
        sensor pointed on average, which leaves gravity alone. Without one, or where the
        gyroscope does not cover the window, the mean reading."""
        turns = self._turns
        first, last = np.searchsorted(turns.t, (start, end), side="right")
        if self._orientation is None or last - first < 0.9 * (end - start) * FUSION_RATE_HZ:
            return mean
        rows = turns.v[first:last]
        turn = Rotation.from_quat(rows[:, :4], scalar_first=True)
        steady: FloatArray = turn.mean().inv().apply(turn.apply(rows[:, 4:]).mean(axis=0))
        return steady

    def _check_frame(self, end: float, found: BodyFrame) -> None:
        """A fresh estimate of the body axes from the stretch ending at `end`. Which way is
        forward rests on a weak correlation, so it is settled only once `sign_votes`
        stretches in a row agree; after that each estimate says how far the forward axis
        has turned, and as many stretches in a row saying forward is the other way turn it
        round (reported as a turn of 180°)."""
        s = self.settings
        vote = 0
        reference = self.frame or self._candidate or found
        if found.sign_r >= s.sign_min_r:
            vote = 1 if float(found.forward @ reference.forward) > 0 else -1
        if self.frame is None:
            self._candidate = reference
            if vote:
                self._votes = [*self._votes, vote][-s.sign_votes :]
            last = self._votes
            if len(last) == s.sign_votes and len(set(last)) == 1:
                way = reference.forward * last[0]
                self.frame = found if float(found.forward @ way) > 0 else found.flipped()
                self._frame_t = end
                self._next_check = end + s.recheck_s
            else:
                self._next_check = end + s.calibration_s  # the next stretch, not this one
            return
        level = found.forward - (found.forward @ self.frame.up) * self.frame.up
        cos = abs(float(level @ self.frame.forward)) / max(float(np.linalg.norm(level)), 1e-9)
        self._turn = float(np.degrees(np.arccos(min(cos, 1.0))))
        self._against = self._against + 1 if vote < 0 else 0 if vote > 0 else self._against
        if self._against >= s.sign_votes:
            self._turn, self._against = 180.0, 0
        self._next_check = end + s.recheck_s

    def relearn_frame(self, t: float) -> None:
        """The sensor moved on the body at run time `t`: learn its axes again from the
        running after it (until then, nothing that needs them is measured)."""
        self.frame, self._frame_t, self._candidate = None, np.inf, None
        self._votes, self._against, self._turn = [], 0, None
        self._relearn_from, self._next_check = t, -np.inf

    def _braking(self) -> None:
        steps, buf = self._steps, self._samples
        todo = np.isnan(steps[:, _SBRAKE]) & np.isfinite(steps[:, _SFROM])
        todo &= (steps[:, _ST] > self._frame_t) & (steps[:, _SFROM] >= buf.first)
        if todo.any():
            starts = steps[todo, _SFROM].astype(np.intp) - buf.first
            ends = steps[todo, _STO].astype(np.intp) - buf.first
            assert self.frame is not None
            forward = buf.v[:, _SX : _SZ + 1] @ self.frame.forward
            steps[todo, _SBRAKE] = braking_per_step(forward, starts, ends)

    def _stride_angles(self) -> None:
        """Pelvic drop and rotation ranges for the steps that end a stride the gyroscope
        covers, measured once each (only after the body axes were learned)."""
        assert self.frame is not None
        turns, angles = self._turns, self._angles
        done = angles.first + angles.t.size - turns.first  # turns already turned into angles
        if done < turns.t.size:
            drop, heading = body_angles(turns.v[max(done, 0) :, :4], self.frame)
            last = angles.v[-1, 1] if angles.t.size else heading[0]
            heading = np.unwrap(np.concatenate([[last], heading]), period=360.0)[1:]
            angles.add(turns.t[max(done, 0) :], np.column_stack([drop, heading]))
            if done < 0:
                angles.first = turns.first
        if angles.t.size < 4:
            return
        steps = self._steps
        rows = np.flatnonzero(np.isnan(steps[:, _SDROP]))
        rows = rows[(rows >= 2) & (steps[rows, _ST] > self._frame_t)]
        if rows.size == 0:
            return
        begin, end = steps[rows - 2, _ST], steps[rows, _ST]
        ok = (begin >= angles.t[0]) & (end <= angles.t[-1])
        ok &= end - begin <= 2 * self.settings.max_step_s
        rows, begin, end = rows[ok], begin[ok], end[ok]
        first = np.searchsorted(angles.t, begin)
        last = np.searchsorted(angles.t, end)
        ok = last - first >= 4
        if ok.any():
            ranges = stride_ranges(first[ok], last[ok], angles.v)
            steps[rows[ok], _SDROP] = ranges[:, 0]
            steps[rows[ok], _SROT] = ranges[:, 1]

    def _trim(self, now: float) -> None:
        """Forget what no window still to come will need."""
        s = self.settings
        # Windows not yet judged (waiting for the gyroscope) still need their seconds.
        judged = min(now, self._next_eval if self._next_eval is not None else now)
        # At most a minute back, should a gyroscope stream stall.
        keep = max(judged - s.window_s - s.hop_s - 1.0, now - 60.0)
        horizon = keep - max(s.calibration_s - s.window_s, 0.0)
        if self._orientation is not None or now - self._first_t < 60.0:
            # The gyroscope's samples may come after the accelerometer's for the same time
            # (in the first minute it is not known yet whether one comes at all): keep the
            # gravity they are fused with.
            horizon = max(min(horizon, self._fused_until - 1.0), now - 60.0)
        self._samples.keep_after(horizon)
        self._decimated.keep_after(keep)
        self._turns.keep_after(keep)
        self._angles.keep_after(keep)
        old = self._steps[:, _ST] <= keep
        if old.any():
            self._steps = self._steps[~old]
        for k in [k for k in self._seconds if k < keep]:
            del self._seconds[k]


def _column_medians(a: FloatArray) -> FloatArray:
    """The median of each column's finite values (NaN for none): `np.nanmedian` does this
    through masked arrays, at twenty times the cost."""
    a = np.sort(a, axis=0)  # NaNs go last
    n = np.isfinite(a).sum(axis=0)
    cols = np.arange(a.shape[1])
    lo, hi = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
    medians: FloatArray = np.where(n > 0, 0.5 * (a[lo, cols] + a[hi, cols]), np.nan)
    return medians
