"""Drill reminders between runs, at times of day, with APScheduler 3 on the daemon's loop.

They are kept in an SQLite job store so that they survive restarts. Reminders missed while
the machine was off come as one, not as a burst, and one missed more than
`REMINDER_GRACE_S` ago is let go.

What is said during a run on a schedule (check-ins, splits, the heart rate) follows the
run's own running time, not the wall clock: the engine's timetable (companion/coaching/timetable.py)
decides it, so that a paused run, a replay held still while a cue is heard and a replay as
fast as the machine goes all hear it at the same moments of the run.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

REMINDERS = "reminders"  # the persistent job store
REMINDER_JOB = "companion.daemon.schedule:drill_reminder"  # what a stored reminder calls
# Where the same function was before the package layout: stores written then name it so.
FORMER_REMINDER_JOBS = ("companion.schedule:drill_reminder",)
REMINDER_GRACE_S = 12 * 3600  # a reminder missed longer ago than this is not said late

# What a stored job calls must be importable by name, so the daemon registers here what a
# reminder does (there is one daemon per process).
_reminder_listeners: list[Callable[[], Awaitable[None]]] = []


def on_reminder(listener: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Call `listener` at each drill reminder; returns the function that unregisters it."""
    _reminder_listeners.append(listener)
    return lambda: _reminder_listeners.remove(listener)


async def drill_reminder() -> None:
    """The stored reminder job (by name: REMINDER_JOB)."""
    for listener in list(_reminder_listeners):
        await listener()


def _renamed_jobs(db: Path) -> None:
    """Point reminders stored under a former name of their function at its name now.

    APScheduler finds a stored job's function by its dotted name, and drops a job whose
    function it cannot find: renaming the module would otherwise lose the runner's
    reminders, and the one missed while the machine was off. The job's state is APScheduler's
    own pickle, in our own file."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        try:
            rows = conn.execute("SELECT id, job_state FROM apscheduler_jobs").fetchall()
        except sqlite3.OperationalError:
            return  # a new store: no table yet
        for job_id, blob in rows:
            state = pickle.loads(blob)
            if state.get("func") in FORMER_REMINDER_JOBS:
                state["func"] = REMINDER_JOB
                conn.execute(
                    "UPDATE apscheduler_jobs SET job_state = ? WHERE id = ?",
                    (pickle.dumps(state, pickle.HIGHEST_PROTOCOL), job_id),
                )
                log.info("stored reminder %r now calls %s", job_id, REMINDER_JOB)


def new_scheduler(db: Path) -> AsyncIOScheduler:
    """A scheduler with the reminders in SQLite at `db`."""
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    db.touch(mode=0o600)  # the runner's habits are theirs: private before SQLite opens it
    db.chmod(0o600)
    _renamed_jobs(db)
    return AsyncIOScheduler(
        jobstores={REMINDERS: SQLAlchemyJobStore(f"sqlite:///{db}")},
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
            REMINDER_JOB,
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
