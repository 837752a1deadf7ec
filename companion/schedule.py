"""Schedules, with APScheduler 3 on the daemon's event loop.

- During a run (`RunSchedule`): a posture check-in every few minutes even when nothing
  drifted, splits by time, and the heart rate now and then. They count run time: a
  paused run pauses them, and each picks up where it was on resume. A replay at N times
  real time runs them N times faster, so it hears what the live run would have.
- Between runs (`Reminders`): drill reminders at times of day, kept in an SQLite job store
  so that they survive restarts. Reminders missed while the machine was off come as one,
  not as a burst, and one missed more than `REMINDER_GRACE_S` ago is let go.

Splits by distance follow the footpod, not the clock: the engine announces those.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from companion.config import ScheduleConfig

log = logging.getLogger(__name__)

REMINDERS = "reminders"  # the persistent job store
REMINDER_GRACE_S = 12 * 3600  # a reminder missed longer ago than this is not said late

# What a stored job calls must be importable by name, so the daemon registers here what a
# reminder does (there is one daemon per process).
_reminder_listeners: list[Callable[[], Awaitable[None]]] = []


def on_reminder(listener: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Call `listener` at each drill reminder; returns the function that unregisters it."""
    _reminder_listeners.append(listener)
    return lambda: _reminder_listeners.remove(listener)


async def drill_reminder() -> None:
    """The stored reminder job (by name: companion.schedule:drill_reminder)."""
    for listener in list(_reminder_listeners):
        await listener()


def new_scheduler(db: Path) -> AsyncIOScheduler:
    """A scheduler with the in-run jobs in memory and the reminders in SQLite at `db`."""
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db.touch(mode=0o600)  # the runner's habits are theirs: private before SQLite opens it
    db.chmod(0o600)
    return AsyncIOScheduler(
        jobstores={"default": MemoryJobStore(), REMINDERS: SQLAlchemyJobStore(f"sqlite:///{db}")},
        job_defaults={"coalesce": True, "max_instances": 1},
    )


class Reminders:
    """Drill reminders at the configured times of day: one stored job whose trigger fires
    at each of them, so that reminders missed while the machine was off coalesce into one
    even across times."""

    JOB = "drill-reminders"

    def __init__(self, scheduler: AsyncIOScheduler):
        self.scheduler = scheduler

    def sync(self, times: tuple[str, ...]) -> None:
        """Make the stored reminders the configured `times` (the scheduler must be started).

        A job stored with the same times is left alone: it keeps its next run time, so a
        reminder missed while the daemon was down is still due rather than moved on.
        """
        job = self.scheduler.get_job(self.JOB, jobstore=REMINDERS)
        name = f"drill reminders at {', '.join(times)}"
        if job is not None and (job.name == name and times):
            return
        if job is not None:
            job.remove()
        if not times:
            return
        crons = [CronTrigger(hour=int(t[:2]), minute=int(t[3:])) for t in times]
        self.scheduler.add_job(
            "companion.schedule:drill_reminder",
            OrTrigger(crons),
            id=self.JOB,
            name=name,
            jobstore=REMINDERS,
            misfire_grace_time=REMINDER_GRACE_S,
            coalesce=True,
        )

    def next_time(self) -> datetime | None:
        job = self.scheduler.get_job(self.JOB, jobstore=REMINDERS)
        return None if job is None else job.next_run_time


class RunSchedule:
    """The in-run jobs of one run. `act(name)` is awaited when one is due: "checkin",
    "split" or "heart-rate"."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        settings: ScheduleConfig,
        act: Callable[[str], Awaitable[None]],
        speed: float = 1.0,
    ):
        self.scheduler = scheduler
        self.act = act
        self._remaining: dict[str, float] = {}
        self.ids: list[str] = []
        every = {
            "checkin": settings.checkin_min,
            "split": settings.split_min,
            "heart-rate": settings.heart_rate_min,
        }
        if speed <= 0:
            return  # a replay as fast as the machine goes has no time to schedule in
        for name, minutes in every.items():
            if minutes <= 0:
                continue
            job = scheduler.add_job(
                self._due,
                IntervalTrigger(seconds=minutes * 60 / speed),
                args=[name],
                id=f"run-{name}",
                name=f"in-run {name} every {minutes:g} min",
                replace_existing=True,
                misfire_grace_time=None,
            )
            self.ids.append(job.id)

    async def _due(self, name: str) -> None:
        try:
            await self.act(name)
        except Exception:  # a failed announcement must not end the schedule
            log.exception("in-run %s failed", name)

    def pause(self) -> None:
        """Hold every job, remembering how long each still had to go."""
        now = datetime.now().astimezone()
        for job_id in self.ids:
            job = self.scheduler.get_job(job_id)
            if job is None or job.next_run_time is None:
                continue
            self._remaining[job_id] = max(0.0, (job.next_run_time - now).total_seconds())
            job.pause()

    def resume(self) -> None:
        """Each job due after the time it still had when paused."""
        now = datetime.now().astimezone()
        for job_id, left in self._remaining.items():
            job = self.scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=now + timedelta(seconds=left))
        self._remaining.clear()

    def stop(self) -> None:
        for job_id in self.ids:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)
        self.ids.clear()

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for job_id in self.ids:
            job = self.scheduler.get_job(job_id)
            if job is not None:
                out.append({"job": job.name, "paused": job.next_run_time is None})
        return out
