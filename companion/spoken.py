"""Numbers as they are said (durations, distances and paces in words espeak-ng reads well)
and as they are shown (a run clock)."""

from __future__ import annotations


def spoken_duration(seconds: float) -> str:
    """ "45 seconds", "12 minutes", "1 hour 5 minutes"."""
    if seconds < 90:
        return f"{round(seconds)} seconds"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minutes"
    hours, rest = divmod(minutes, 60)
    hour = "1 hour" if hours == 1 else f"{hours} hours"
    return hour if rest == 0 else f"{hour} {rest} minutes"


def spoken_distance(metres: float) -> str:
    """ "800 metres", "3 kilometres", "2.5 kilometres"."""
    if metres < 1000:
        return f"{round(metres, -1):.0f} metres"
    km = round(metres / 1000, 1)
    if km == 1:
        return "1 kilometre"
    return f"{km:.0f} kilometres" if km == int(km) else f"{km:.1f} kilometres"


def spoken_pace(metres: float, seconds: float) -> str | None:
    """Time per kilometre as runners say it: "5 12 a kilometre" (five twelve), "5 oh 5 a
    kilometre", "5 minutes a kilometre"; None when there is no distance."""
    if metres <= 0 or seconds <= 0:
        return None
    per_km = round(seconds * 1000 / metres)
    minutes, secs = divmod(per_km, 60)
    if minutes >= 30:
        return None  # walking or standing: a pace would mislead
    if secs == 0:
        return f"{minutes} minutes a kilometre"
    return f"{minutes} {secs if secs >= 10 else f'oh {secs}'} a kilometre"


def clock(t: float) -> str:
    minutes, seconds = divmod(round(t), 60)
    return f"{minutes:02d}:{seconds:02d}"


def duration_clock(seconds: float) -> str:
    """A length of time as written: "4:05", "1:02:05"."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
