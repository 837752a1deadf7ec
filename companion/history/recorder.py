"""Keeping a run in the history while it happens, and closing runs a killed process left.

`RunRecorder` is a frontend of the run (it sees every event), takes the engine's seconds
and the raw notifications, and writes them on a thread of its own, committing at least
once a second of the run and once a second of wall time: a killed process loses about a
second. While it records it holds a lock on the run (an flock, which dies with the process),
so `recover` can tell a run whose process is gone from one still going in the daemon.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from companion.coaching.events import (
    BaselineLearned,
    Battery,
    CueSpoken,
    DriftEnded,
    DriftStarted,
    Event,
    RunStarted,
    SensorChanged,
    Summary,
)
from companion.form.record import RunInfo, Second
from companion.history import store
from companion.history.store import Store

log = logging.getLogger(__name__)
_Op = Callable[[sqlite3.Connection], None]  # a change to the history, on the writer thread

COMMIT_EVERY_S = 1.0  # of the run, and of wall time: what a killed process may lose
RETRY_EVERY_S = 5.0  # after a failed write (a full disk), the next try


@dataclass(frozen=True)
class NewRun:
    """What is known of a run when it starts."""

    name: str
    started: datetime
    source: str
    kind: str  # "live", "replay" or "import"
    files: dict[str, str] = field(default_factory=dict)
    content: str | None = None  # the recording's identity (store.content_of), if known now;
    # a live run's is its raw log's, taken when it ends


def lock_path(db: Path, name: str) -> Path:
    return db.parent / "recording" / f"{name}.lock"


def _try_lock(path: Path) -> int | None:
    """An exclusive lock on `path` (its descriptor), or None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class RunRecorder:
    """One run kept in the history at `db` as it happens (see the module's docstring)."""

    def __init__(
        self,
        db: Path,
        run: NewRun,
        commit_every_s: float = COMMIT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.db = db
        self.run = run
        self.commit_every_s = commit_every_s  # of run time: an import, which can be done
        # again, commits far less often than a run
        self._clock = clock  # wall time, in seconds (a test brings its own)
        self.broken: str | None = None  # why the history cannot be written, once it cannot
        self.kept = True  # False once closed with no data, and so not kept
        self._conn = store.connect(db)
        self.id, self.name, self._lock = self._insert(run)
        with Store(db) as history:
            self.earlier = history.earlier(history.run(self.id))  # for the summary
        # (the run time it brings, or None; the change), or None to close
        self._ops: queue.SimpleQueue[tuple[float | None, _Op] | None] = queue.SimpleQueue()
        self._sensors: dict[str, dict[str, Any]] = {}
        self._raw = bytearray()
        self._raw_seq = 0
        self._packer = zlib.compressobj(6)
        self._thread = threading.Thread(target=self._write, name="history", daemon=True)
        self._thread.start()

    def _insert(self, run: NewRun) -> tuple[int, str, int]:
        """The run's row, its name and its lock (taken first, so that `recover` never takes
        the run for one left behind). A name already taken gets a number."""
        for n in range(1, 1000):
            name = run.name if n == 1 else f"{run.name}-{n}"
            lock = _try_lock(lock_path(self.db, name))
            if lock is None:
                continue
            try:
                run_id = store.insert_run(
                    self._conn, name, run.started, run.source, run.kind, run.files, run.content
                )
            except (sqlite3.IntegrityError, store.AlreadyKept) as err:
                lock_path(self.db, name).unlink()  # ours: we held it
                os.close(lock)
                if isinstance(err, store.AlreadyKept):
                    self._conn.close()
                    raise
                continue
            return run_id, name, lock
        raise store.StoreError(f"no free name for run {run.name}")

    # What the run hands over (on the event loop; never blocks) -------------------------

    def show(self, event: Event) -> None:
        op = self._op_for(event)
        if op is not None:
            self._ops.put((None, op))

    def second(self, s: Second) -> None:
        run = self.id
        self._ops.put((s.t, lambda c: _second(c, run, s)))

    def raw(self, record: bytes) -> None:
        """Raw log records (without the magic line), as the raw log writer writes them."""
        self._ops.put((None, lambda c: self._raw.extend(record)))

    def close(self) -> None:
        """Write what is waiting, then let go of the run: not kept if it holds no data
        (`kept` says), else with its identity (blocking: call it from a thread when a loop
        is waiting)."""
        self._ops.put(None)
        self._thread.join()
        try:
            content = _raw_log_content(self.run.files)
            # An import says why it kept nothing itself, in its one line.
            say = self.run.kind != "import"
            self.kept = _settle(self._conn, self.id, self.name, self.run.files, content, say)
        except (sqlite3.Error, OSError) as err:  # kept as it is, closed at the next start
            log.error("run %s could not be settled in the history (%s)", self.name, err)
        finally:
            self._conn.close()
            with contextlib.suppress(OSError):
                lock_path(self.db, self.name).unlink()
            os.close(self._lock)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Events into rows ------------------------------------------------------------------

    def _op_for(self, event: Event) -> _Op | None:
        run = self.id
        if isinstance(event, RunStarted):
            for name, place in _named(event.sensor, event.placement):
                self._sensors[name] = {"placement": place}
            return self._sensors_now()
        if isinstance(event, SensorChanged | Battery):
            entry = self._sensors.setdefault(event.id, {})
            entry["role"] = event.role
            if isinstance(event, Battery):
                entry["battery"] = event.percent
            else:
                entry.setdefault("links", []).append([round(event.t, 1), event.link])
            return self._sensors_now()
        if isinstance(event, BaselineLearned):
            rows = [(run, k, v, event.spread.get(k)) for k, v in event.values.items()]
            return lambda c: c.executemany(
                "INSERT OR REPLACE INTO baseline VALUES (?, ?, ?, ?)", rows
            ).close()
        if isinstance(event, DriftStarted | DriftEnded):
            row = store.episode_row(run, event.episode, event.id)
            return lambda c: c.execute(store.INSERT_EPISODE, row).close()
        if isinstance(event, CueSpoken):
            cue = (run, event.t, event.id, event.category, event.about, event.episode, event.text)
            return lambda c: c.execute(store.INSERT_CUE, cue).close()
        if isinstance(event, Summary):
            stats, text = event.stats, event.text
            return lambda c: store.finish_row(c, run, "finished", stats, text)
        return None

    def _sensors_now(self) -> _Op:
        """The sensors as they are now (written as text here: the dict changes on the loop
        while the writer thread works)."""
        text = store.to_json([{"name": n, **v} for n, v in self._sensors.items()])
        run = self.id
        return lambda c: c.execute("UPDATE run SET sensors = ? WHERE id = ?", (text, run)).close()

    # The writer thread -------------------------------------------------------------------

    def _write(self) -> None:
        done: list[_Op] = []  # since the last commit
        last_commit = self._clock()
        committed_t = run_t = -1.0  # run time covered
        retry_at = 0.0
        closing = False
        while not closing or done:
            try:
                item = self._ops.get(timeout=COMMIT_EVERY_S / 2)
            except queue.Empty:
                item = (None, _nothing)
            if item is None:
                closing = True
            else:
                t, op = item
                done.append(op)
                run_t = t if t is not None else run_t
            now = self._clock()
            due = now - last_commit >= COMMIT_EVERY_S or run_t - committed_t >= self.commit_every_s
            if done and (closing or (due and now >= retry_at)):
                last_commit = now
                if self._commit(done):
                    done, committed_t, retry_at = [], run_t, 0.0
                elif closing:  # a last try at the end of the run, then the files keep it
                    log.error("%d changes to run %s could not be kept", len(done), self.name)
                    return
                else:
                    retry_at = now + RETRY_EVERY_S

    def _commit(self, ops: list[_Op]) -> bool:
        """Apply `ops` in one transaction with the raw data gathered meanwhile."""
        before = len(self._raw)
        packer = self._packer.copy()  # kept only if the chunk is
        try:
            with store.transaction(self._conn):
                for op in ops:
                    op(self._conn)
                if self._raw:
                    # One deflate stream for the run, flushed at each commit: compressed
                    # as well as the whole file would be, and readable up to the last commit.
                    chunk = packer.compress(self._raw) + packer.flush(zlib.Z_SYNC_FLUSH)
                    self._conn.execute(store.INSERT_RAW, (self.id, self._raw_seq, chunk))
        except Exception as err:  # a full disk, a locked file; whatever it is, the run goes on
            del self._raw[before:]  # the raw ops run again with the rest
            if self.broken is None:
                log.error(
                    "the history cannot be written (%s); the run goes on, its events and raw "
                    "log files are kept, and writing is tried again",
                    err,
                )
            self.broken = str(err)
            return False
        if self._raw:
            self._packer, self._raw_seq = packer, self._raw_seq + 1
            self._raw.clear()
        if self.broken is not None:
            log.info("the history can be written again")
            self.broken = None
        return True


def _nothing(c: sqlite3.Connection) -> None:
    pass


def _raw_log_content(files: dict[str, str]) -> str | None:
    """A live run's identity: its raw log file's (what importing that file would find)."""
    raw_log = Path(files["raw_log"]) if "raw_log" in files else None
    return store.content_of(raw_log) if raw_log is not None and raw_log.is_file() else None


def _settle(
    conn: sqlite3.Connection,
    run: int,
    name: str,
    files: dict[str, str],
    content: str | None,
    say: bool = True,
) -> bool:
    """A run that has ended: removed if it holds no data (its files, if any, stay; said in
    the log if `say`), else given its identity `content` if it has none yet; whether it is
    kept."""
    raw_log = files.get("raw_log")
    with store.transaction(conn):
        if store.drop_if_empty(conn, run):
            if say:
                stays = f"; its raw log stays in {raw_log}" if raw_log is not None else ""
                log.warning("run %s holds no data: not kept in the history%s", name, stays)
            return False
        if content is not None:
            conn.execute(
                "UPDATE run SET content = ? WHERE id = ? AND content IS NULL", (content, run)
            )
        store.keep_pace(conn, run)
    return True


def _second(c: sqlite3.Connection, run: int, s: Second) -> None:
    c.execute(store.INSERT_SECOND, store.second_row(run, s))
    if s.steps:
        c.executemany(store.INSERT_STEP, [(run, *step) for step in s.steps])


def _named(sensors: str, placements: str) -> list[tuple[str, str]]:
    names = [n.strip() for n in sensors.split(",") if n.strip() and n.strip() != "none"]
    places = [p.strip() for p in placements.split(",")]
    return [(n, places[i] if i < len(places) else "") for i, n in enumerate(names)]


def recover(db: Path, now: datetime | None = None) -> list[RunInfo]:
    """Close the runs a killed process left open: their totals and summary from what was
    kept, their open drifts ended where the data ends. Runs still being recorded (their
    lock held) are left alone. The runs closed."""
    from companion.coaching.summary import spoken_summary, stats_of

    closed = []
    with Store(db) as history:
        for run in history.runs(state="recording"):
            lock = _try_lock(lock_path(db, run.name))
            if lock is None:
                continue  # still being recorded
            try:
                run = history.run(run.id)
                if run.state != "recording":
                    continue  # closed by its process a moment ago
                seconds = history.seconds(run.id)
                episodes = history.episodes(run.id)
                stats = stats_of(seconds, episodes, history.cues(run.id))
                text = spoken_summary(stats, history.earlier(run), now or run.started)
                content = _raw_log_content(run.files)
                with store.transaction(history.conn):
                    for ep in stats.episodes:
                        history.conn.execute(
                            store.INSERT_EPISODE,
                            store.episode_row(run.id, ep.to_dict(), ep.fault.value),
                        )
                    store.finish_row(history.conn, run.id, "recovered", stats.to_dict(), text)
                    kept = _settle(history.conn, run.id, run.name, run.files, content)
                if not kept:
                    continue
                log.warning(
                    "run %s was cut short (its process ended without closing it); recovered "
                    "%s of it",
                    run.name,
                    f"{stats.duration_s:.0f} s",
                )
                closed.append(history.run(run.id))
            finally:
                with contextlib.suppress(OSError):
                    lock_path(db, run.name).unlink()
                os.close(lock)
    return closed


def housekeeping(db: Path, keep_detail_days: int, now: datetime | None = None) -> None:
    """At the daemon's start and after each run it keeps: runs a killed process left are
    closed, and retention applied (`companion.history.retention`), each said in the log."""
    from companion.history.retention import retain

    recover(db)
    retain(db, keep_detail_days, now)
