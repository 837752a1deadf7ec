"""Numbers as they are said (durations, distances and paces in words espeak-ng reads well)
and as they are shown (a run clock, a pace such as 9:26 /km)."""

from __future__ import annotations

import re

from cues.words import counted


def spoken_duration(seconds: float) -> str:
    """ "45 seconds", "1 second", "12 minutes", "1 hour 1 minute"."""
    if seconds < 90:
        return counted(round(seconds), "second")
    minutes = round(seconds / 60)
    if minutes < 60:
        return counted(minutes, "minute")
    hours, rest = divmod(minutes, 60)
    hour = counted(hours, "hour")
    return hour if rest == 0 else f"{hour} {counted(rest, 'minute')}"


def spoken_distance(metres: float) -> str:
    """ "800 metres", "3 kilometres", "2.5 kilometres"."""
    if metres < 1000:
        return f"{round(metres, -1):.0f} metres"
    km = round(metres / 1000, 1)
    if km == 1:
        return "1 kilometre"
    return f"{km:.0f} kilometres" if km == int(km) else f"{km:.1f} kilometres"


def _per_km(metres: float, seconds: float) -> tuple[int, int] | None:
    """(minutes, seconds) a kilometre; None with no distance, or slower than running."""
    if metres <= 0 or seconds <= 0:
        return None
    minutes, secs = divmod(round(seconds * 1000 / metres), 60)
    return None if minutes >= 30 else (minutes, secs)  # walking or standing would mislead


def spoken_pace(metres: float, seconds: float) -> str | None:
    """Time per kilometre as runners say it: "5 12 a kilometre" (five twelve), "5 oh 5 a
    kilometre", "5 minutes a kilometre"; None when there is no distance."""
    pace = _per_km(metres, seconds)
    if pace is None:
        return None
    minutes, secs = pace
    if secs == 0:
        return f"{minutes} minutes a kilometre"
    return f"{minutes} {secs if secs >= 10 else f'oh {secs}'} a kilometre"


def written_pace(metres: float, seconds: float) -> str | None:
    """Time per kilometre as it is printed: "5:12 /km", "5:05 /km"."""
    pace = _per_km(metres, seconds)
    return None if pace is None else f"{pace[0]}:{pace[1]:02d} /km"


_SPOKEN_PERCENT = re.compile(r"\b(\d+) percent\b")
_SPOKEN_PACE = re.compile(r"\b(\d+) (?:minutes|(\d\d)|oh (\d)) a kilometre\b")


def written(text: str) -> str:
    """A text that is said (a summary, kept as it was said), as it is printed: its paces
    and shares in the written form, "9:26 /km" for "9 26 a kilometre" and "92 %" for "92
    percent"; the rest as it is."""

    def pace(m: re.Match[str]) -> str:
        return f"{m.group(1)}:{int(m.group(2) or m.group(3) or 0):02d} /km"

    return _SPOKEN_PERCENT.sub(r"\1 %", _SPOKEN_PACE.sub(pace, text))


def clock(t: float) -> str:
    minutes, seconds = divmod(round(t), 60)
    return f"{minutes:02d}:{seconds:02d}"


def duration_clock(seconds: float) -> str:
    """A length of time as written: "4:05", "1:02:05"."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
