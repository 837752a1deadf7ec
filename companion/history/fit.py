"""A kept run as a FIT activity, written with Garmin's own SDK (imported when a FIT file is
asked for: its profile is large), laid out as a Garmin watch writes one.

FIT's conventions:
- running cadence is in strides per minute (one foot), so the history's steps per minute
  are halved, with `fractional_cadence` (1/128 resolution) keeping the half step;
- the timer runs exactly while the history counted the runner as running: it stops
  (`stop_all`) when they stop and starts again when they run, so the session's timer time
  is the run's running time and its elapsed time includes the stops;
- one lap per kilometre when a footpod measured distance, as a watch's auto lap does, else
  one lap for the whole run (see `_laps` for why not one per running bout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from companion.form.record import RunInfo, Second
from companion.history.export import ExportError, finite

HOP_S = 1.0  # a kept second is the analysis window ending at its t, one second apart
LAP_M = 1000.0
PRODUCT = 1  # our own number under FIT's "development" manufacturer
# One device for every export: with time_created the run's start, exporting a run again
# gives the same file id, which Garmin Connect and Strava recognise as the same activity.
SERIAL_NUMBER = 0x50434F31
TIMER_MANUAL, TIMER_AUTO = 0, 1  # FIT's timer_trigger: the run's ends, and its stops


def strides(steps_per_min: float) -> tuple[int, float]:
    """FIT's running cadence for a cadence in steps per minute: (whole strides per minute,
    the fraction left), for `cadence` and `fractional_cadence`."""
    per_foot = steps_per_min / 2
    whole = math.floor(per_foot)
    return whole, per_foot - whole


def running_bouts(seconds: Sequence[Second]) -> list[tuple[float, float]]:
    """(start, end) in run seconds of each stretch counted as running, while the timer runs.
    A second is the window ending at its t, so running seconds a..b are timed from a - 1
    to b: the timer then adds up to the run's running time exactly."""
    bouts: list[tuple[float, float]] = []
    for s in seconds:
        if not s.running:
            continue
        if bouts and s.t - bouts[-1][1] <= HOP_S + 1e-6:
            bouts[-1] = (bouts[-1][0], s.t)
        else:
            bouts.append((s.t - HOP_S, s.t))
    return bouts


def _timer_s(bouts: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Timer time between run seconds `start` and `end`."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in bouts)


@dataclass(frozen=True)
class Lap:
    """A part of the run, from `start` to `end` in run seconds, and the seconds in it."""

    start: float
    end: float
    seconds: Sequence[Second]
    trigger: str  # FIT's lap_trigger: "distance" or "session_end"


def _laps(seconds: Sequence[Second]) -> list[Lap]:
    """One lap per kilometre when distance is known, as a watch's auto lap does, the last
    one the rest. Without distance, one lap for the whole run: a lap per running bout would
    be one per stop at a crossing, which a watch's auto pause does not make either."""
    laps: list[Lap] = []
    start, first, mark = 0.0, 0, LAP_M
    for i, s in enumerate(seconds):
        if s.distance_m is not None and s.distance_m >= mark:
            laps.append(Lap(start, s.t, seconds[first : i + 1], "distance"))
            start, first = s.t, i + 1
            mark = (math.floor(s.distance_m / LAP_M) + 1) * LAP_M
    if first < len(seconds):
        laps.append(Lap(start, seconds[-1].t, seconds[first:], "session_end"))
    return laps


def _distance_at(seconds: Sequence[Second]) -> float | None:
    """The distance run by the last of `seconds` that knows it."""
    return next((s.distance_m for s in reversed(seconds) if s.distance_m is not None), None)


class _Fit:
    """The messages of one run's FIT activity, in the SDK's terms (units and scales are the
    SDK's to apply: values go in as seconds, metres, m/s and datetimes)."""

    def __init__(self, run: RunInfo, seconds: Sequence[Second]):
        from garmin_fit_sdk import Profile

        self.num: dict[str, int] = Profile["mesg_num"]
        self.run = run
        self.seconds = seconds
        self.bouts = running_bouts(seconds)
        self.end = seconds[-1].t

    def at(self, t: float) -> datetime:
        return self.run.started + timedelta(seconds=t)

    def mesg(self, name: str, **fields: Any) -> dict[str, Any]:
        # The SDK leaves out fields that are None: a value not known is not written.
        return {"mesg_num": self.num[name], **fields}

    def messages(self) -> list[dict[str, Any]]:
        start = self.at(0.0)
        header = [
            self.mesg(
                "FILE_ID",
                type="activity",
                manufacturer="development",
                product=PRODUCT,
                serial_number=SERIAL_NUMBER,
                time_created=start,
                product_name="posture-companion",
            ),
            self.mesg(
                "DEVICE_INFO",
                timestamp=start,
                device_index="creator",
                manufacturer="development",
                product=PRODUCT,
                serial_number=SERIAL_NUMBER,
                source_type="local",
                product_name="posture-companion",
            ),
        ]
        # Records and timer events in time order; an event at a record's time comes after
        # it, as the timer starts or stops at the end of that second.
        timed = [(s.t, 0, self.record(s)) for s in self.seconds]
        timed += [(t, 1, m) for t, m in self.timer_events()]
        timed.sort(key=lambda item: (item[0], item[1]))
        laps = [self.lap(i, lap) for i, lap in enumerate(_laps(self.seconds))]
        return [*header, *(m for _, _, m in timed), *laps, self.session(len(laps)), self.activity()]

    def record(self, s: Second) -> dict[str, Any]:
        mesg = self.mesg("RECORD", timestamp=self.at(s.t))
        cadence = finite(s.cadence_spm)
        if cadence is not None:
            mesg["cadence"], mesg["fractional_cadence"] = strides(cadence)
        mesg["speed"] = mesg["enhanced_speed"] = finite(s.speed_mps)
        mesg["distance"] = finite(s.distance_m)
        rate = finite(s.heart_rate_bpm)
        mesg["heart_rate"] = None if rate is None else round(rate)
        return mesg

    def timer_events(self) -> list[tuple[float, dict[str, Any]]]:
        """The timer started at each running bout and stopped at its end, as a watch's auto
        pause does; a run never counted as running starts and stops it at once."""
        bouts = self.bouts or [(0.0, 0.0)]
        events = []
        for i, (a, b) in enumerate(bouts):
            first, last = i == 0, i == len(bouts) - 1
            for t, kind, manual in ((a, "start", first), (b, "stop_all", last)):
                events.append(
                    (
                        t,
                        self.mesg(
                            "EVENT",
                            timestamp=self.at(t),
                            event="timer",
                            event_type=kind,
                            data=TIMER_MANUAL if manual else TIMER_AUTO,  # timer_trigger
                            event_group=0,
                        ),
                    )
                )
        return events

    def totals(self, start: float, end: float, seconds: Sequence[Second]) -> dict[str, Any]:
        """What a lap and the session both tell of their part of the run. Averages are over
        the running seconds (FIT's averages leave the stops out); speed is distance over
        timer time, as FIT defines it."""
        running = [s for s in seconds if s.running]
        cadences = [c for s in running if (c := finite(s.cadence_spm)) is not None]
        rates = [r for s in running if (r := finite(s.heart_rate_bpm)) is not None]
        speeds = [v for s in running if (v := finite(s.speed_mps)) is not None]
        timer_s = _timer_s(self.bouts, start, end)
        out: dict[str, Any] = {
            "timestamp": self.at(end),
            "start_time": self.at(start),
            "total_elapsed_time": end - start,
            "total_timer_time": timer_s,
            "sport": "running",
            "sub_sport": "generic",
        }
        before = _distance_at([s for s in self.seconds if s.t <= start]) or 0.0
        after = _distance_at([s for s in self.seconds if s.t <= end])
        if after is not None:
            out["total_distance"] = after - before
            if timer_s > 0:
                out["avg_speed"] = out["enhanced_avg_speed"] = (after - before) / timer_s
        if speeds:
            out["max_speed"] = out["enhanced_max_speed"] = max(speeds)
        if cadences:
            out["avg_cadence"], out["avg_fractional_cadence"] = strides(fmean(cadences))
            out["max_cadence"], out["max_fractional_cadence"] = strides(max(cadences))
        if rates:
            out["avg_heart_rate"], out["max_heart_rate"] = round(fmean(rates)), round(max(rates))
        return out

    def lap(self, index: int, lap: Lap) -> dict[str, Any]:
        return self.mesg(
            "LAP",
            message_index=index,
            event="lap",
            event_type="stop",
            lap_trigger=lap.trigger,
            **self.totals(lap.start, lap.end, lap.seconds),
        )

    def session(self, laps: int) -> dict[str, Any]:
        return self.mesg(
            "SESSION",
            message_index=0,
            event="session",
            event_type="stop",
            trigger="activity_end",
            first_lap_index=0,
            num_laps=laps,
            **self.totals(0.0, self.end, self.seconds),
        )

    def activity(self) -> dict[str, Any]:
        from garmin_fit_sdk import convert_datetime_to_timestamp

        end = self.at(self.end)
        offset = end.utcoffset() or timedelta(0)
        return self.mesg(
            "ACTIVITY",
            timestamp=end,
            total_timer_time=_timer_s(self.bouts, 0.0, self.end),
            num_sessions=1,
            type="manual",
            event="activity",
            event_type="stop",
            # The end in the runner's local time: FIT's seconds since its epoch, plus the
            # run's UTC offset (a datetime would be taken as UTC by the SDK).
            local_timestamp=convert_datetime_to_timestamp(end) + int(offset.total_seconds()),
        )


def fit_bytes(run: RunInfo, seconds: Sequence[Second]) -> bytes:
    """The run as a FIT activity file: one record per kept second, laps, a session."""
    from garmin_fit_sdk import Encoder

    if not seconds:
        raise ExportError(f"run {run.id} has no seconds to put in a FIT file")
    encoder = Encoder()
    for mesg in _Fit(run, seconds).messages():
        encoder.write_mesg(mesg)
    return encoder.close()


# CSV and JSON ----------------------------------------------------------------------------
