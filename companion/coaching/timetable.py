"""In-run announcements on running time: the posture check-in, time splits, the heart rate.

Pure, and driven by the engine with the run's own running time: the seconds the runner has
run, which stand still while the run is paused or the runner has stopped. So the check-in
"every 5 minutes" comes after 5 minutes of running, never during a pause, and at the same
moment of the run in a live run, a replay that waits for speech and a replay as fast as the
machine goes. (Wall-clock schedules between runs, the drill reminders, are APScheduler's:
see companion/daemon/schedule.py.)
"""

from __future__ import annotations

from collections.abc import Mapping


class Timetable:
    """Which announcements are due as running time passes.

    `every` maps an announcement's name ("checkin", "split", "heart-rate") to its interval
    in seconds of running; 0 or less leaves it out.
    """

    def __init__(self, every: Mapping[str, float]):
        self._every = {name: s for name, s in every.items() if s > 0}
        self._next = dict(self._every)

    def next_at(self, name: str) -> float | None:
        """The running time `name` is next due at (None: not in the timetable)."""
        return self._next.get(name)

    def due(self, running_s: float) -> list[str]:
        """The announcements whose time has come by `running_s`, in the order given, each
        once however many intervals went by (after a gap in the data, one is enough)."""
        names = []
        for name, every in self._every.items():
            if running_s >= self._next[name]:
                names.append(name)
                while self._next[name] <= running_s:
                    self._next[name] += every
        return names
