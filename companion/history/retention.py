"""Retention: with `[history] keep_detail_days = N`, runs older than N days keep their
totals, baseline, drifts and cues but drop their seconds, steps and raw data, and the space
they took goes back to the file system.

It changes the history, so it runs where runs are kept, never in a command that only reads:
at the daemon's start and after each run it keeps, after `companion run` and `companion
import` keep one, and on `companion history --prune`. Each run it drops is said.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from companion.form.record import RunInfo
from companion.history.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dropped:
    """A run whose detail retention dropped, and how much there was."""

    run: RunInfo
    seconds: int
    steps: int
    raw_bytes: int  # compressed, as kept

    def describe(self) -> str:
        r = self.run
        return (
            f"run {r.id} ({r.name}, {r.started:%Y-%m-%d}) kept its totals, drifts and cues; "
            f"its {self.seconds} seconds, {self.steps} steps and {size(self.raw_bytes)} of raw "
            "sensor data were dropped"
        )


def size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def prune(
    history: Store, keep_detail_days: int, now: datetime | None = None
) -> tuple[list[Dropped], int | None]:
    """Drop the detail of the closed runs older than `keep_detail_days` that still have
    it (none when 0), and give the space back; the runs, oldest first, and the bytes the
    file shrank by (None when it could not be given back now)."""
    if keep_detail_days <= 0:
        return [], 0
    now = now or datetime.now().astimezone()
    dropped = []
    for run in reversed(history.runs(before=now - timedelta(days=keep_detail_days))):
        if run.detail_dropped is None and run.state != "recording":
            dropped.append(Dropped(run, *history.detail_size(run.id)))
            history.drop_detail(run, now)
    return dropped, history.reclaim() if dropped else 0


def retain(db: Path, keep_detail_days: int, now: datetime | None = None) -> list[Dropped]:
    """`prune` after a run was kept, each run dropped said in the log; the runs. A history
    that cannot be used is said too, and is no failure of the run."""
    try:
        with Store(db) as history:
            dropped, freed = prune(history, keep_detail_days, now)
    except (StoreError, sqlite3.Error, OSError) as err:
        log.error("retention could not be applied to the run history (%s)", err)
        return []
    for d in dropped:
        log.warning("retention (keep_detail_days = %d): %s", keep_detail_days, d.describe())
    if dropped:
        log.warning("retention: %s", given_back(freed))
    return dropped


def given_back(freed: int | None) -> str:
    if freed is None:
        return "the space is given back next time (the history is being written now)"
    return f"the history file gave back {size(max(freed, 0))}"
