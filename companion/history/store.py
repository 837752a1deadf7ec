"""The run history: one SQLite file (WAL) at the platform's data path, private to the runner.

Each run keeps its metadata and sensors, its seconds (every metric the engine judged),
its steps, its baseline, its drift episodes, the cues said, and the raw sensor
notifications, compressed. The schema is versioned (`PRAGMA user_version`); `MIGRATIONS`
brings a file of any earlier version up to date when it is opened, in one transaction.

Writing during a run goes through `companion.history.recorder`, on its own thread; this module
holds the schema, the reads, and the changes made between runs (finish, delete, drop
detail, give space back); `companion.history.retention` decides which detail goes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from companion.form.pace import PaceSums, pace_sums
from companion.form.record import Episode, RunInfo, Second, Step
from cues.faults import Fault

# Each entry takes the file from the version before it (its index) to the next.
MIGRATIONS: tuple[str, ...] = (
    # 1: the first store.
    """
    CREATE TABLE run (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        started TEXT NOT NULL,            -- ISO 8601 with the UTC offset
        source TEXT NOT NULL,
        kind TEXT NOT NULL,               -- live, replay or import
        state TEXT NOT NULL,              -- recording, finished or recovered
        sensors TEXT NOT NULL DEFAULT '[]',
        files TEXT NOT NULL DEFAULT '{}',
        duration_s REAL, running_s REAL, judged_s REAL, held_s REAL,
        distance_m REAL, cadence_spm REAL, heart_rate_bpm REAL,
        cues INTEGER, form_cues INTEGER,
        summary TEXT
    );
    CREATE TABLE second (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        t REAL NOT NULL,
        running INTEGER NOT NULL, judged INTEGER NOT NULL, drifting INTEGER NOT NULL,
        cadence_spm REAL, speed_mps REAL, distance_m REAL, heart_rate_bpm REAL,
        metrics TEXT NOT NULL,            -- JSON: every `source.metric`
        PRIMARY KEY (run, t)
    ) WITHOUT ROWID;
    CREATE TABLE step (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        t REAL NOT NULL,
        interval_s REAL, bounce_cm REAL, braking_g REAL, contact_ms REAL,
        PRIMARY KEY (run, t)
    ) WITHOUT ROWID;
    CREATE TABLE baseline (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        metric TEXT NOT NULL, value REAL NOT NULL, spread REAL,
        PRIMARY KEY (run, metric)
    ) WITHOUT ROWID;
    CREATE TABLE episode (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        episode INTEGER NOT NULL,
        fault TEXT NOT NULL, metric TEXT NOT NULL, direction TEXT NOT NULL,
        relative INTEGER NOT NULL, baseline REAL NOT NULL,
        start REAL NOT NULL, value REAL, excess REAL,
        peak_t REAL, peak_excess REAL, "end" REAL, ran_out INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run, episode)
    ) WITHOUT ROWID;
    CREATE TABLE cue (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        t REAL NOT NULL,
        cue_id TEXT NOT NULL, category TEXT NOT NULL, about TEXT, episode INTEGER,
        text TEXT NOT NULL
    );
    CREATE INDEX cue_by_run ON cue(run, t);
    CREATE TABLE raw (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,               -- raw log records (sensors/recorded/rawlog.py), the run's
                                          -- chunks one zlib stream, flushed at each commit
        PRIMARY KEY (run, seq)
    ) WITHOUT ROWID;
    """,
    # 2: what the trends and the retention need. When the first drift began is kept with
    # the run (filled in here for the runs already kept), so that a year of trends does not
    # read every episode; and the date retention dropped a run's detail.
    """
    ALTER TABLE run ADD COLUMN drift_onset_s REAL;
    ALTER TABLE run ADD COLUMN drifts INTEGER;
    ALTER TABLE run ADD COLUMN detail_dropped TEXT;
    UPDATE run SET
        drift_onset_s = (SELECT min(start) FROM episode WHERE episode.run = run.id),
        drifts = (SELECT count(*) FROM episode WHERE episode.run = run.id)
        WHERE state != 'recording';
    CREATE INDEX run_by_start ON run(started);
    """,
    # 3: what tells the same recording kept twice (`content_of`): the SHA-256 of its file's
    # bytes, a live run's raw log or an imported file. Runs kept before have none.
    """
    ALTER TABLE run ADD COLUMN content TEXT;
    CREATE INDEX run_by_content ON run(content);
    """,
    # 4: a drift ended because the sensor moved on the body (it was never the runner's);
    # and each run's sums of how its metrics moved with its pace (`companion.form.pace`),
    # from which the coach learns the runner's own slopes.
    """
    ALTER TABLE episode ADD COLUMN moved INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE pace (
        run INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        n INTEGER NOT NULL, sv REAL NOT NULL, sy REAL NOT NULL, svv REAL NOT NULL,
        svy REAL NOT NULL,
        PRIMARY KEY (run, metric)
    ) WITHOUT ROWID;
    """,
)
VERSION = len(MIGRATIONS)
RAW_MAGIC = b"PCRAW1\n"  # the raw data is kept as the records of a raw log, after this line
INCREMENTAL = 2  # PRAGMA auto_vacuum: freed pages can be given back (`Store.reclaim`)

# Like with like: what a run is compared with (the summary's "than last week", the report's
# trends) is runs of its own kind. A live run with live runs; an import with imports, whose
# data came from other sensors or another app and is not measured the same way; a replay
# with none, for a recording coached again is not a run of yours. Nor is a replay ever
# "your last run"; and a recording is kept once as a run of yours (`insert_run`), however
# often it is replayed.
YOURS = ("live", "import")


def alike(kind: str) -> tuple[str, ...]:
    """The kinds of run a run of `kind` is compared with."""
    return (kind,) if kind in YOURS else ()


def content_of(path: Path, trial: int | None = None) -> str:
    """What identifies a recording, whatever its name or date: the SHA-256 of its file's
    bytes, and the trial taken of it when a file holds several."""
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return digest if trial is None else f"{digest} trial {trial}"


class StoreError(RuntimeError):
    """The history cannot be used (a damaged file, a newer version, a run not found)."""


class ImportRefused(ValueError):
    """A recording that is not kept, and why (said in one line)."""


class AlreadyKept(StoreError):
    """A recording kept already, asked to be kept again."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the history at `path`, created private to the runner if new and
    brought up to the current schema."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created with the runner's rights only; SQLite gives its -wal and -shm files the same.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A new file, so not yet fixed (WAL writes its first page): freed pages can be
            # given back. A file made before gets this at its first `reclaim`.
            conn.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # a killed process loses nothing committed
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise StoreError(f"{path}: cannot be used as the run history ({err})") from None
    return conn


def migrate(conn: sqlite3.Connection, to: int = VERSION) -> int:
    """Apply the migrations the file lacks, up to version `to`, in one transaction that
    holds the write lock (two processes opening a file at once migrate it once); the
    version it had."""
    have = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if have == to:
        return have  # the usual case: no write lock taken
    with transaction(conn):
        have = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if have > VERSION:
            raise StoreError(
                f"the history was written by a newer posture-companion (schema {have}, "
                f"this one knows {VERSION}); it is left as it is"
            )
        for version in range(have, to):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
        if to > have:
            conn.execute(f"PRAGMA user_version = {to}")
    return have


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a script, one by one (so they share the caller's transaction,
    where `executescript` would commit it)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"an unfinished SQL statement: {pending.strip()[:60]}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """What is done inside is committed together, or not at all."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    if conn.in_transaction:
        conn.commit()


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def second_row(run: int, s: Second) -> tuple[Any, ...]:
    return (
        run,
        s.t,
        s.running,
        s.judged,
        s.drifting,
        s.cadence_spm,
        s.speed_mps,
        s.distance_m,
        s.heart_rate_bpm,
        to_json({k: round(v, 4) for k, v in s.values.items()}),
    )


INSERT_SECOND = "INSERT OR REPLACE INTO second VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_STEP = "INSERT OR REPLACE INTO step VALUES (?, ?, ?, ?, ?, ?)"
INSERT_CUE = "INSERT INTO cue VALUES (?, ?, ?, ?, ?, ?, ?)"
INSERT_RAW = "INSERT INTO raw VALUES (?, ?, ?)"


def episode_row(run: int, ep: dict[str, Any], fault: str) -> tuple[Any, ...]:
    """An episode as the drift events carry it (`Episode.to_dict`)."""
    return (
        run,
        ep["episode"],
        fault,
        f"{ep['source']}.{ep['metric']}",
        ep["direction"],
        ep["unit"] == "fraction",
        ep["baseline"],
        ep["start"],
        ep["value"],
        ep["excess"],
        ep["peak_t"],
        ep["peak_excess"],
        ep["end"],
        ep.get("ran_out", False),
        ep.get("moved", False),
    )


def seconds_of(conn: sqlite3.Connection, run: int) -> list[Second]:
    rows = conn.execute(
        "SELECT t, running, judged, drifting, cadence_spm, speed_mps, distance_m, "
        "heart_rate_bpm, metrics FROM second WHERE run = ? ORDER BY t",
        (run,),
    )
    return [
        Second(t, bool(r), bool(j), bool(d), c, sp, di, hr, json.loads(m))
        for t, r, j, d, c, sp, di, hr, m in rows
    ]


def keep_pace(conn: sqlite3.Connection, run: int) -> None:
    """Keep how the run's metrics moved with its pace (nothing for a run without a speed)."""
    sums = pace_sums(seconds_of(conn, run))
    conn.execute("DELETE FROM pace WHERE run = ?", (run,))
    conn.executemany(
        "INSERT INTO pace VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(run, name, p.n, p.sv, p.sy, p.svv, p.svy) for name, p in sums.items()],
    )


INSERT_EPISODE = (
    "INSERT OR REPLACE INTO episode VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_RUN_COLUMNS = (
    "id, name, started, source, kind, state, duration_s, running_s, judged_s, held_s, "
    "distance_m, cadence_spm, heart_rate_bpm, cues, form_cues, drift_onset_s, drifts, "
    "summary, sensors, files, detail_dropped, content"
)


def _run(row: sqlite3.Row | tuple[Any, ...]) -> RunInfo:
    names = [c.strip() for c in _RUN_COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["started"] = datetime.fromisoformat(values["started"])
    values["sensors"] = tuple(json.loads(values["sensors"]))
    values["files"] = json.loads(values["files"])
    return RunInfo(**values)


class Store:
    """The history, read and changed between runs. Each call is quick (indexed reads), and
    meant for a thread of its own when the event loop is waiting."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = connect(path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Runs -----------------------------------------------------------------------------

    def runs(self, state: str | None = None, before: datetime | None = None) -> list[RunInfo]:
        """Runs, newest first; only those in `state`, or started before `before`."""
        where, args = [], []
        if state is not None:
            where.append("state = ?")
            args.append(state)
        if before is not None:
            where.append("started < ?")
            args.append(before.isoformat())
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM run {clause} ORDER BY started DESC, id DESC", args
        )
        return [_run(r) for r in rows]

    def last(self, closed: bool = False) -> RunInfo | None:
        """Your latest run (never a replay: see `YOURS`); only a closed one if `closed`."""
        marks = ", ".join("?" * len(YOURS))
        only = "AND state != 'recording'" if closed else ""
        row = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM run WHERE kind IN ({marks}) {only} "
            "ORDER BY started DESC, id DESC LIMIT 1",
            YOURS,
        ).fetchone()
        return None if row is None else _run(row)

    def run(self, ref: str | int | None = None) -> RunInfo:
        """A run by number, by name, or your latest (None, "last"); StoreError if none."""
        if ref is None or ref == "last":
            last = self.last()
            if last is None:
                replays = self.conn.execute("SELECT 1 FROM run LIMIT 1").fetchone()
                what = "no runs of yours, only replays," if replays else "no runs"
                raise StoreError(f"{what} are kept yet; `companion history` lists the runs kept")
            return last
        if isinstance(ref, int) or ref.isdigit():
            row = self.conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM run WHERE id = ?", (int(ref),)
            ).fetchone()
        else:
            row = self.conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM run WHERE name = ?", (ref,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no run {ref!r}; `companion history` lists the runs kept")
        return _run(row)

    def pace_sums(self) -> list[dict[str, PaceSums]]:
        """Each of your runs' pace sums (see `companion.form.pace`), by `source.metric`."""
        marks = ", ".join("?" * len(YOURS))
        rows = self.conn.execute(
            "SELECT pace.run, metric, n, sv, sy, svv, svy FROM pace JOIN run ON run.id = pace.run "
            f"WHERE run.kind IN ({marks}) ORDER BY pace.run",
            YOURS,
        )
        runs: dict[int, dict[str, PaceSums]] = {}
        for run, metric, *sums in rows:
            runs.setdefault(run, {})[metric] = PaceSums(*sums)
        return list(runs.values())

    def earlier(self, run: RunInfo, count: int = 5) -> list[RunInfo]:
        """The closed runs like `run` (`alike`) before it with their form judged, most
        recent first."""
        kinds = alike(run.kind)
        rows = self.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM run WHERE started < ? AND id != ? "
            f"AND kind IN ({', '.join('?' * len(kinds))}) "
            "AND state != 'recording' AND judged_s > 0 ORDER BY started DESC LIMIT ?",
            (run.started.isoformat(), run.id, *kinds, count),
        )
        return [_run(r) for r in rows]

    def kept_as(self, content: str) -> RunInfo | None:
        """The run of yours (see `YOURS`) kept from the recording `content` identifies."""
        return _kept_as(self.conn, content)

    # A run's detail -------------------------------------------------------------------

    def seconds(self, run: int) -> list[Second]:
        return seconds_of(self.conn, run)

    def steps(self, run: int) -> list[Step]:
        rows = self.conn.execute(
            "SELECT t, interval_s, bounce_cm, braking_g, contact_ms FROM step "
            "WHERE run = ? ORDER BY t",
            (run,),
        )
        return [Step(*r) for r in rows]

    def baseline(self, run: int) -> dict[str, tuple[float, float | None]]:
        """`source.metric` -> (the runner's value, its spread)."""
        rows = self.conn.execute("SELECT metric, value, spread FROM baseline WHERE run = ?", (run,))
        return {m: (v, s) for m, v, s in rows}

    def episodes(self, run: int) -> list[Episode]:
        rows = self.conn.execute(
            "SELECT metric, direction, fault, baseline, start, value, excess, relative, "
            'peak_t, peak_excess, "end", episode, ran_out, moved FROM episode '
            "WHERE run = ? ORDER BY start, episode",
            (run,),
        )
        return [
            Episode(m, d, Fault(f), b, s, v, x, bool(rel), pt, px, e, i, bool(ro), bool(mv))
            for m, d, f, b, s, v, x, rel, pt, px, e, i, ro, mv in rows
        ]

    def cues(self, run: int) -> list[tuple[float, str, str, str, int | None]]:
        """(t, cue id, category, wording, episode) of every cue said, in order."""
        rows = self.conn.execute(
            "SELECT t, cue_id, category, text, episode FROM cue WHERE run = ? ORDER BY t, rowid",
            (run,),
        )
        return [tuple(r) for r in rows]

    def raw_log(self, run: int) -> bytes:
        """The run's raw notifications as a raw log file's bytes (empty if none were kept)."""
        chunks = self.conn.execute("SELECT data FROM raw WHERE run = ? ORDER BY seq", (run,))
        stream = zlib.decompressobj()  # the chunks are one deflate stream (the recorder's)
        body = b"".join(stream.decompress(data) for (data,) in chunks)
        return RAW_MAGIC + body if body else b""

    def raw_size(self, run: int) -> tuple[int, int]:
        """(compressed bytes, chunks) of raw data kept for the run."""
        n, size = self.conn.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM raw WHERE run = ?", (run,)
        ).fetchone()
        return int(size), int(n)

    # Changes between runs ----------------------------------------------------------------

    def detail_size(self, run: int) -> tuple[int, int, int]:
        """(seconds, steps, compressed bytes of raw data) kept of the run's detail."""
        seconds, steps = (
            self.conn.execute(f"SELECT count(*) FROM {table} WHERE run = ?", (run,)).fetchone()[0]
            for table in ("second", "step")
        )
        return int(seconds), int(steps), self.raw_size(run)[0]

    def delete(self, run: RunInfo) -> None:
        """The run and everything kept of it in the history, its space given back."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM run WHERE id = ?", (run.id,))
        self.reclaim()

    def reclaim(self) -> int | None:
        """Give the pages that deleted runs and dropped detail freed back to the file
        system; the bytes the file shrank by, or None when another process is writing it
        (they are given back the next time). A file made before this could be done is
        rewritten once (VACUUM), and from then on gives them back a few at a time."""
        before = _size(self.path)
        try:
            if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
                self.conn.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
                self.conn.execute("VACUUM")
            else:
                self.conn.execute("PRAGMA incremental_vacuum").fetchall()
            # The pages go back to the file system when the log is folded into the file.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:  # busy: a run is being written
            return None
        return before - _size(self.path)

    def drop_detail(self, run: RunInfo, when: datetime) -> None:
        """Retention: the run's seconds, steps and raw data go; its totals, baseline,
        drifts and cues stay, with the date they went."""
        with transaction(self.conn):
            for table in ("second", "step", "raw"):
                self.conn.execute(f"DELETE FROM {table} WHERE run = ?", (run.id,))
            self.conn.execute(
                "UPDATE run SET detail_dropped = ? WHERE id = ?",
                (when.isoformat(timespec="seconds"), run.id),
            )


def _size(db: Path) -> int:
    """The bytes the history takes on disk: its file and its write-ahead log."""
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _kept_as(conn: sqlite3.Connection, content: str) -> RunInfo | None:
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM run WHERE content = ? "
        f"AND kind IN ({', '.join('?' * len(YOURS))}) ORDER BY id LIMIT 1",
        (content, *YOURS),
    ).fetchone()
    return None if row is None else _run(row)


def insert_run(
    conn: sqlite3.Connection,
    name: str,
    started: datetime,
    source: str,
    kind: str,
    files: dict[str, str],
    content: str | None,
) -> int:
    """A new run's row, being recorded; `AlreadyKept` when a run of yours holds the same
    recording (checked in the same transaction, so two imports at once keep it once)."""
    with transaction(conn):
        if content is not None and kind in YOURS:
            kept = _kept_as(conn, content)
            if kept is not None:
                raise AlreadyKept(
                    f"{source} is already kept as run {kept.id} ({kept.name}, "
                    f"{kept.started:%Y-%m-%d %H:%M}): the same recording, byte for byte; "
                    f"`companion delete {kept.id}` first to keep it again"
                )
        cursor = conn.execute(
            "INSERT INTO run (name, started, source, kind, state, files, content) "
            "VALUES (?, ?, ?, ?, 'recording', ?, ?)",
            (name, started.isoformat(timespec="seconds"), source, kind, to_json(files), content),
        )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def drop_if_empty(conn: sqlite3.Connection, run: int) -> bool:
    """Remove the run if it holds no data (no second kept, no heart rate, no distance: a
    run stopped as it began, a file with nothing the coach can use); whether it did."""
    cursor = conn.execute(
        "DELETE FROM run WHERE id = ? AND heart_rate_bpm IS NULL AND distance_m IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM second WHERE run = ?)",
        (run, run),
    )
    return cursor.rowcount > 0


def finish_row(
    conn: sqlite3.Connection,
    run: int,
    state: str,
    stats: dict[str, Any],
    summary: str | None,
) -> None:
    """Close a run: its totals (RunStats.to_dict plus its internals) and its summary."""
    episodes = stats["drift_episodes"]
    conn.execute(
        "UPDATE run SET state = ?, duration_s = ?, running_s = ?, judged_s = ?, held_s = ?, "
        "distance_m = ?, cadence_spm = ?, heart_rate_bpm = ?, cues = ?, form_cues = ?, "
        "drift_onset_s = ?, drifts = ?, summary = ? WHERE id = ?",
        (
            state,
            stats["duration_s"],
            stats["running_s"],
            stats["judged_s"],
            stats["held_s"],
            stats["distance_m"],
            stats["cadence_spm"],
            stats["heart_rate_bpm"],
            stats["cues"],
            stats["form_cues"],
            min((ep["start"] for ep in episodes), default=None),
            len(episodes),
            summary,
            run,
        ),
    )
