"""The schedules: drill reminders on a real APScheduler with a real SQLite job store, moved
through time with time-machine (at times of day, kept across restarts, missed ones
coalesced), and the in-run timetable, which counts running time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import pickle
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

import pytest
import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from companion.coaching.timetable import Timetable
from companion.daemon.schedule import (
    FORMER_REMINDER_JOBS,
    REMINDER_JOB,
    Reminders,
    new_scheduler,
    on_reminder,
)

P = ParamSpec("P")


def local(*args: int) -> datetime:
    return datetime(*args).astimezone()  # type: ignore[arg-type]


def in_loop(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test on its own event loop, as the daemon runs its scheduler."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def settle() -> None:
    """Let the loop run what the scheduler queued (its jobs are tasks on the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def shut(scheduler: AsyncIOScheduler) -> None:
    """Stop `scheduler` as the daemon does at exit (its store keeps the jobs)."""
    scheduler.shutdown(wait=False)
    await settle()


@pytest.fixture
def heard() -> Iterator[list[datetime]]:
    times: list[datetime] = []

    async def remind() -> None:
        times.append(datetime.now().astimezone())

    unregister = on_reminder(remind)
    yield times
    unregister()


async def started(db: Path, times: tuple[str, ...]) -> Reminders:
    scheduler = new_scheduler(db)
    scheduler.start(paused=True)  # as the daemon does: stored jobs first, then the config
    reminders = Reminders(scheduler)
    reminders.sync(times)
    scheduler.resume()
    await settle()
    return reminders


@in_loop
async def test_reminders_fire_at_their_times_and_survive_a_restart(
    tmp_path: Path, heard: list[datetime]
) -> None:
    db = tmp_path / "schedule.sqlite"
    with time_machine.travel(local(2026, 11, 25, 7, 59), tick=False) as clock:
        reminders = await started(db, ("08:00", "13:00", "19:30"))
        assert reminders.next_time() == local(2026, 11, 25, 8, 0)
        assert heard == []
        clock.move_to(local(2026, 11, 25, 8, 0, 1))
        reminders.scheduler.wakeup()
        await settle()
        assert len(heard) == 1
        assert reminders.next_time() == local(2026, 11, 25, 13, 0)
        await shut(reminders.scheduler)

        clock.move_to(local(2026, 11, 25, 12, 0))  # restarted before the next one
        again = await started(db, ("08:00", "13:00", "19:30"))
        assert again.next_time() == local(2026, 11, 25, 13, 0)
        assert len(heard) == 1
        clock.move_to(local(2026, 11, 25, 13, 0, 2))
        again.scheduler.wakeup()
        await settle()
        assert len(heard) == 2
        await shut(again.scheduler)
    assert db.stat().st_mode & 0o777 == 0o600


@in_loop
async def test_reminders_missed_while_off_come_as_one(
    tmp_path: Path, heard: list[datetime]
) -> None:
    db = tmp_path / "schedule.sqlite"
    with time_machine.travel(local(2026, 11, 25, 7, 0), tick=False) as clock:
        first = await started(db, ("08:00", "13:00", "19:30"))
        await shut(first.scheduler)
        # Off from 7:00 until 20:00: three reminders missed.
        clock.move_to(local(2026, 11, 25, 20, 0))
        back = await started(db, ("08:00", "13:00", "19:30"))
        assert len(heard) == 1
        assert back.next_time() == local(2026, 11, 26, 8, 0)
        await shut(back.scheduler)

        # Off for two days: the last one missed is older than the grace period.
        clock.move_to(local(2026, 11, 28, 7, 45))
        late = await started(db, ("08:00", "13:00", "19:30"))
        assert len(heard) == 1
        assert late.next_time() == local(2026, 11, 28, 8, 0)
        await shut(late.scheduler)


@pytest.mark.parametrize(("hours_late", "said_late"), [(11, True), (13, False)])
@in_loop
async def test_a_missed_reminder_is_said_late_within_12_hours_of_its_time(
    tmp_path: Path, heard: list[datetime], hours_late: int, said_late: bool
) -> None:
    """README: missed reminders are said when the machine is back "unless the last one is
    more than 12 hours old": the 8:00 one, back at 19:00, is said; back at 21:00, it is not."""
    db = tmp_path / "schedule.sqlite"
    with time_machine.travel(local(2026, 11, 25, 7, 0), tick=False) as clock:
        first = await started(db, ("08:00",))
        await shut(first.scheduler)  # off from 7:00
        back_at = local(2026, 11, 25, 8 + hours_late, 0)
        clock.move_to(back_at)
        back = await started(db, ("08:00",))
        assert heard == ([back_at] if said_late else [])
        assert back.next_time() == local(2026, 11, 26, 8, 0)  # either way, on to tomorrow
        await shut(back.scheduler)


@in_loop
async def test_reminders_stored_under_the_former_module_name_are_kept(
    tmp_path: Path, heard: list[datetime]
) -> None:
    """A store written before the package layout names `companion.schedule:drill_reminder`;
    APScheduler would drop that job, and with it the reminder missed while off."""
    db = tmp_path / "schedule.sqlite"
    with time_machine.travel(local(2026, 11, 25, 7, 0), tick=False) as clock:
        first = await started(db, ("08:00", "13:00"))
        await shut(first.scheduler)
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            (blob,) = conn.execute("SELECT job_state FROM apscheduler_jobs").fetchone()
            state = pickle.loads(blob)
            assert state["func"] == REMINDER_JOB
            state["func"] = FORMER_REMINDER_JOBS[0]
            conn.execute("UPDATE apscheduler_jobs SET job_state = ?", (pickle.dumps(state),))
        clock.move_to(local(2026, 11, 25, 9, 0))  # the 8:00 one was missed meanwhile
        back = await started(db, ("08:00", "13:00"))
        assert len(heard) == 1  # said late, not lost
        assert back.next_time() == local(2026, 11, 25, 13, 0)
        await shut(back.scheduler)


@in_loop
async def test_changed_times_replace_the_stored_reminders(
    tmp_path: Path, heard: list[datetime]
) -> None:
    db = tmp_path / "schedule.sqlite"
    with time_machine.travel(local(2026, 11, 25, 9, 0), tick=False):
        reminders = await started(db, ("08:00", "13:00"))
        assert reminders.next_time() == local(2026, 11, 25, 13, 0)
        reminders.sync(("10:15",))
        assert reminders.next_time() == local(2026, 11, 25, 10, 15)
        reminders.sync(())
        assert reminders.next_time() is None
        await shut(reminders.scheduler)
    assert heard == []


def test_in_run_announcements_come_by_running_time() -> None:
    table = Timetable({"checkin": 300, "split": 600, "heart-rate": 0})
    assert table.due(299) == []
    assert table.due(300) == ["checkin"]
    assert table.due(301) == []  # once per interval
    assert table.due(600) == ["checkin", "split"]  # in the order given
    # After a gap in the data (three intervals at once) each is said once, then on time.
    assert table.due(1500) == ["checkin", "split"]
    assert table.due(1799) == []
    assert table.due(1800) == ["checkin", "split"]
