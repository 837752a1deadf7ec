"""The run history: a real SQLite file, its schema and migrations, runs kept as they happen,
a run a killed daemon left recovered at the next start, and the commands that read it."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import re
import signal
import sqlite3
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from companion import paths
from companion.coaching.events import Summary
from companion.coaching.summary import RunStats, compared, stats_of, summary_text
from companion.form.record import RunInfo, Second
from companion.history import store
from companion.history.recorder import NewRun, RunRecorder, housekeeping, lock_path, recover
from companion.history.store import Store, StoreError
from sensors.recorded.rawlog import RawLogWriter
from tests.conftest import TREADMILL, assert_speech
from tests.history_data import FIRST, copy_to
from tests.test_cli import companion
from tests.test_daemon import HIP_RUN, ask, daemon_status, running_daemon, wait_until, write_config
from tests.test_rawlog import POD, footpod_log

T = TypeVar("T")


@pytest.fixture
def history(kept_history: Path, tmp_path: Path) -> Path:
    """The three kept runs, in this test's data folder."""
    return copy_to(kept_history, tmp_path / "data")


def test_the_file_and_its_folder_are_the_runners_alone(tmp_path: Path) -> None:
    db = tmp_path / "private" / "history.sqlite"
    with RunRecorder(db, NewRun("run-1", FIRST, "test", "live")) as recorder:
        recorder.second(Second(t=1.0, running=True, values={"pelvis.lean_deg": 3.0}))
        wait_until(lambda: db.with_name("history.sqlite-wal").exists(), timeout=10)
        for path in (db, db.with_name("history.sqlite-wal"), db.with_name("history.sqlite-shm")):
            assert path.stat().st_mode & 0o777 == 0o600, path
        assert db.parent.stat().st_mode & 0o777 == 0o700
        assert lock_path(db, "run-1").exists()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.VERSION
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == store.INCREMENTAL
    assert not lock_path(db, "run-1").exists()


def test_a_history_of_the_first_version_is_migrated_with_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    store.migrate(conn, to=1)  # the schema as the first release wrote it
    conn.execute(
        "INSERT INTO run (id, name, started, source, kind, state, duration_s, judged_s, held_s) "
        "VALUES (1, 'run-a', ?, 'old run', 'live', 'finished', 1500, 840, 700)",
        (FIRST.isoformat(),),
    )
    conn.execute(
        "INSERT INTO run (id, name, started, source, kind, state) "
        "VALUES (2, 'run-b', ?, 'cut short', 'live', 'recording')",
        ((FIRST + timedelta(days=1)).isoformat(),),
    )
    for n, start in ((1, 610.0), (2, 480.5)):
        conn.execute(
            "INSERT INTO episode (run, episode, fault, metric, direction, relative, baseline, "
            'start, "end") '
            "VALUES (1, ?, 'anterior_tilt', 'pelvis.lean_deg', 'above', 0, 4, ?, ?)",
            (n, start, start + 60),
        )
    conn.close()

    with Store(db) as history:
        assert history.conn.execute("PRAGMA user_version").fetchone()[0] == store.VERSION == 4
        old = history.run(1)
        assert (old.drift_onset_s, old.drifts, old.detail_dropped) == (480.5, 2, None)
        assert old.content is None  # kept before runs had one
        assert old.form_held == pytest.approx(700 / 840)
        assert [ep.start for ep in history.episodes(1)] == [480.5, 610.0]
        assert not any(ep.moved for ep in history.episodes(1))  # the sensor stayed put
        assert history.run(2).drift_onset_s is None  # left for its recovery to fill in
    # Opening again changes nothing; a file from a newer release is left alone.
    assert store.migrate(store.connect(db)) == store.VERSION
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer posture-companion"):
        Store(db)


def test_a_history_of_the_second_version_is_migrated_and_its_runs_can_be_told_apart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "history.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    store.migrate(conn, to=2)
    conn.execute(
        "INSERT INTO run (id, name, started, source, kind, state, duration_s, judged_s, held_s) "
        "VALUES (1, 'run-a', ?, 'old run', 'import', 'finished', 1500, 840, 700)",
        (FIRST.isoformat(),),
    )
    conn.close()
    recording = tmp_path / "run.csv"
    recording.write_text("t,x\n0,1\n")
    with Store(db) as history:
        assert history.conn.execute("PRAGMA user_version").fetchone()[0] == 4
        assert history.run(1).content is None and history.run(1).held_s == 700
        assert history.kept_as(store.content_of(recording)) is None
    # A run kept from it now is known by its bytes, under any name and any date.
    conn = store.connect(db)
    kept = store.insert_run(
        conn, "run-b", FIRST, "run.csv", "import", {}, store.content_of(recording)
    )
    recording.rename(tmp_path / "renamed.csv")
    with pytest.raises(store.AlreadyKept, match=f"already kept as run {kept} "):
        store.insert_run(
            conn,
            "run-c",
            FIRST + timedelta(days=1),
            "renamed.csv",
            "import",
            {},
            store.content_of(tmp_path / "renamed.csv"),
        )
    assert store.content_of(tmp_path / "renamed.csv", trial=2).endswith(" trial 2")


def test_a_kept_run_adds_up_to_what_the_engine_said(kept_history: Path) -> None:
    with Store(kept_history) as history:
        runs = history.runs()
        assert [r.state for r in runs] == ["finished"] * 3
        faulty = runs[0]
        seconds = history.seconds(faulty.id)
        again = stats_of(seconds, history.episodes(faulty.id), history.cues(faulty.id))
        # The totals the engine gave at the end, and the same from the rows kept (which end
        # with the last whole second judged).
        assert faulty.duration_s == pytest.approx(again.duration_s, abs=2.0)
        assert faulty.running_s == pytest.approx(again.running_s)
        assert faulty.judged_s == pytest.approx(again.judged_s)
        assert faulty.held_s == pytest.approx(again.held_s)
        assert faulty.cadence_spm == pytest.approx(again.cadence_spm, abs=0.1)
        assert faulty.cues == again.cues and faulty.form_cues == again.form_cues
        assert len(seconds) > 1400 and len(history.steps(faulty.id)) > 2500
        base = history.baseline(faulty.id)
        assert 150 < base["pelvis.cadence_spm"][0] < 165
        faults = {ep.fault.value for ep in history.episodes(faulty.id)}
        assert "anterior_tilt" in faults
        answered = [c for c in again.cue_results if c.corrected_after_s is not None]
        assert answered and all(0 <= c.corrected_after_s <= 300 for c in answered)  # type: ignore[operator]
        assert faulty.summary is not None and "helped: corrected in" in faulty.summary
        # The run before it held form longer: the summary says so.
        assert "less than on Thursday" in faulty.summary


def _info(when: datetime, held_min: float, onset_min: float | None) -> RunInfo:
    return RunInfo(
        id=1,
        name="r",
        started=when,
        source="s",
        kind="live",
        state="finished",
        judged_s=1800,
        held_s=held_min * 60,
        drift_onset_s=None if onset_min is None else onset_min * 60,
    )


def test_the_comparison_names_the_run_before_and_the_recent_drift() -> None:
    now = datetime.fromisoformat("2026-11-26T18:00:00+01:00")
    stats = RunStats(2400, 2300, 170, 2100, 1800, (), 0, 0)  # held 30 of 35 minutes, no drift
    week = [_info(now - timedelta(days=8), 24, 14), _info(now - timedelta(days=10), 20, 12)]
    assert compared(stats, now, week) == ["Form held 6 minutes longer than last week."]
    assert compared(stats, now, [_info(now - timedelta(days=1), 31, None)]) == [
        "Form held 1 minute less than yesterday."
    ]
    assert compared(stats, now, []) == []
    text = summary_text(stats, "Try the daily routine.", week, now)
    assert text.endswith(
        "No drift. Well run. Form held 6 minutes longer than last week. Try the daily routine."
    )


@pytest.mark.long
def test_a_run_killed_mid_way_is_recovered_at_the_next_start(tmp_path: Path) -> None:
    write_config("[coach]\nwarmup_s = 30\n")
    db = paths.history_db()
    with running_daemon(tmp_path) as (proc, _notify, _log):
        ask("start", "--replay", str(HIP_RUN), "--speed", "40")
        status = wait_until(lambda: (s := daemon_status())["run_s"] >= 300 and s, timeout=120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # What the killed process left: an open run, committed up to a second or two before.
    with Store(db) as history:
        left = history.runs(state="recording")
        assert len(left) == 1
        kept = history.seconds(left[0].id)
        assert kept[-1].t >= status["run_s"] - 2.0, (kept[-1].t, status["run_s"])
        assert [s.t for s in kept] == [float(t) for t in range(int(kept[0].t), int(kept[-1].t) + 1)]

    (tmp_path / "again").mkdir()
    with running_daemon(tmp_path / "again") as (_proc, _notify, log):
        wait_until(lambda: "was cut short" in log.read_text(), timeout=30)
        with Store(db) as history:
            run = history.run(left[0].id)
            assert run.state == "recovered"
            assert run.duration_s == kept[-1].t and run.running_s and run.running_s > 200
            assert run.summary is not None and run.summary.startswith("Run complete")
            assert all(ep.end is not None for ep in history.episodes(run.id))
        assert not lock_path(db, run.name).exists()
        # A new run is kept beside it. Both are replays of the demo's run, not runs of
        # yours: the summary said at its end compares it with nothing.
        ask("start", "--replay", str(HIP_RUN), "--speed", "0")
        last = wait_until(lambda: daemon_status().get("last_run"), timeout=120)
        assert "Form held" in last["summary"] and " than " not in last["summary"], last
        listed = json.loads(companion("history", "--json").stdout)
        assert [(r["state"], r["kind"]) for r in listed] == [
            ("finished", "replay"),
            ("recovered", "replay"),
        ]


class MovedClock:
    """The recorder's wall time, moved by the test; the times the writer has looked at."""

    def __init__(self) -> None:
        self.now = 0.0
        self.seen: set[float] = set()

    def __call__(self) -> float:  # on the writer thread
        now = self.now
        self.seen.add(now)
        return now

    def move(self, to: float) -> None:
        self.now = to


def read_until(read: Callable[[], T], enough: Callable[[T], bool], timeout: float = 30.0) -> T:
    """What `read` gives once it is `enough`, or at `timeout` whatever it gives then."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if enough(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def test_what_a_kill_would_leave_never_lags_the_run_by_more_than_a_second(
    tmp_path: Path,
) -> None:
    """README: the history is written as the run goes, at least once a second, so a killed
    process loses at most about a second. Read from another connection while the run goes
    on, as the next start would read it after a kill: in the run's own time (a fast replay,
    where wall time hardly moves) and in wall time (a pause: the run clock stands, the
    sensors still send)."""
    db = tmp_path / "history.sqlite"
    clock = MovedClock()
    recorder = RunRecorder(db, NewRun("run-1", FIRST, "test", "replay"), clock=clock)
    reader = sqlite3.connect(db, isolation_level=None)

    def seconds() -> list[tuple[float, float]]:
        rows = reader.execute(
            "SELECT t, metrics FROM second WHERE run = ? ORDER BY t", (recorder.id,)
        ).fetchall()
        return [(t, json.loads(metrics)["pelvis.lean_deg"]) for t, metrics in rows]

    def raw() -> bytes:
        rows = reader.execute("SELECT data FROM raw WHERE run = ? ORDER BY seq", (recorder.id,))
        return zlib.decompressobj().decompress(b"".join(data for (data,) in rows))

    try:
        # A replay at 40 times real time: every second of the run is kept before the next
        # but one comes, though only 3/4 of a second of wall time goes by in all.
        fed: list[tuple[float, float]] = []
        for n in range(30):
            clock.move(n / 40)
            lean = 3.0 + n / 10
            recorder.second(Second(t=float(n), running=True, values={"pelvis.lean_deg": lean}))
            fed.append((float(n), lean))
            kept = read_until(seconds, lambda k: len(k) >= len(fed) - 1)
            assert kept in (fed[:-1], fed), f"run second {n} fed; the file holds {kept}"

        # Paused: no second of the run goes by, but a second of wall time does between
        # notifications, and each is kept by the time the next has come and a second gone.
        records: list[bytes] = []
        for n in range(1, 6):
            record = f"notification {n}\n".encode()
            recorder.raw(record)
            records.append(record)
            clock.move(1.0 + n)
            looked = read_until(lambda: clock.now in clock.seen, bool)
            assert looked, "the writer never looked at the clock"
            got = read_until(raw, lambda r: len(r) >= len(b"".join(records[:-1])))
            assert got in (b"".join(records[:-1]), b"".join(records)), (
                f"{n} s of wall time into a pause; the file holds {got!r} of {records}"
            )
    finally:
        recorder.close()
        reader.close()
    with Store(db) as history:
        assert [s.t for s in history.seconds(recorder.id)] == [t for t, _ in fed]
        assert history.raw_log(recorder.id).endswith(b"".join(records))


def test_the_run_being_recorded_is_not_recovered_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    with RunRecorder(db, NewRun("run-now", FIRST, "live run", "live")) as recorder:
        recorder.second(Second(t=1.0, running=True))
        assert recover(db) == []
        with Store(db) as history:
            assert history.run("run-now").state == "recording"


def test_history_summary_and_delete_from_the_command_line(history: Path, tmp_path: Path) -> None:
    listed = json.loads(companion("history", "--json").stdout)
    assert [r["id"] for r in listed] == [3, 2, 1]
    table = companion("history").stdout
    assert "Runs kept (3)" in table and "12/14 min" in table

    said = json.loads(companion("summary", "2", "--json").stdout)
    assert said["summary"].startswith("Run complete: 25 minutes")
    assert "Form held 2 minutes longer than on Monday." in said["summary"]
    assert json.loads(companion("summary", "--json").stdout)["run"] == listed[0]["name"]
    spoken = companion("summary", "1", "--speak", "--audio", "files", "--out", str(tmp_path / "s"))
    assert spoken.returncode == 0, spoken.stderr
    assert_speech(next((tmp_path / "s").glob("*summary.wav")), max_s=25.0)
    missing = companion("summary", "9")
    assert missing.returncode == 2 and "no run '9'" in missing.stderr

    asked = companion("delete", "1")  # no terminal to ask on: nothing is deleted
    assert asked.returncode == 1 and "--yes deletes it without asking" in asked.stderr
    deleted = companion("delete", "1", "--yes")
    assert deleted.returncode == 0 and "Deleted run 1" in deleted.stdout
    with Store(history) as kept:
        assert [r.id for r in kept.runs()] == [3, 2]
        assert kept.seconds(1) == [] and kept.episodes(1) == []


def test_import_keeps_a_recording_once_and_never_in_the_future(tmp_path: Path) -> None:
    # A CSV recording is analysed and kept; the daemon's raw log of a live run, below.
    later = companion("import", str(HIP_RUN), "--when", "2099-01-01")
    assert later.returncode == 2
    assert later.stderr.strip() == (
        "companion: outdoor_run_hip_100hz.csv.xz: --when says 2099-01-01 00:00, which is in "
        "the future; say when the run was run with --when DATE"
    )
    imported = companion(
        "import", str(HIP_RUN), "--when", "2026-11-20T07:30", "--placement", "hip=pelvis"
    )
    assert imported.returncode == 0, imported.stderr
    assert "Kept as run 1 (run-20261120-073000)" in imported.stdout
    # The same bytes again, on another day, under another name: the same recording.
    copy = tmp_path / "another-name.csv.xz"
    copy.write_bytes(HIP_RUN.read_bytes())
    again = companion("import", str(copy), "--when", "2026-11-22T07:30")
    assert again.returncode == 2
    assert "another-name.csv.xz is already kept as run 1 (run-20261120-073000, " in again.stderr
    with Store(paths.history_db()) as history:
        (run,) = history.runs()
        assert run.kind == "import" and run.started.hour == 7
        assert run.cadence_spm is not None and 150 < run.cadence_spm < 165
        assert run.content == hashlib.sha256(HIP_RUN.read_bytes()).hexdigest()


def _two_trials(path: Path) -> None:
    """The treadmill recording's trials 1-4 one after another as trial 1, and 5-8 as 2."""
    with gzip.open(TREADMILL, "rt") as f:
        head, *rows = list(csv.reader(f))
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(head)
        for trial, taken in ((1, range(1, 5)), (2, range(5, 9))):
            for i, old in enumerate(taken):
                for r in rows:
                    if r[0] == str(old):
                        out.writerow([trial, f"{float(r[1]) + 5 * i:.5f}", *r[2:]])


def test_each_trial_of_a_file_is_a_recording_of_its_own(tmp_path: Path) -> None:
    trials = tmp_path / "trials.csv"
    _two_trials(trials)
    first = companion("import", str(trials), "--trial", "1", "--when", "2026-11-20T07:30")
    assert first.returncode == 0, first.stderr
    assert "already kept as run 1" in companion("import", str(trials), "--trial", "1").stderr
    second = companion("import", str(trials), "--trial", "2", "--when", "2026-11-20T08:30")
    assert second.returncode == 0, second.stderr
    with Store(paths.history_db()) as history:
        digest = hashlib.sha256(trials.read_bytes()).hexdigest()
        assert [r.content for r in history.runs()] == [f"{digest} trial 2", f"{digest} trial 1"]


def test_a_file_with_nothing_to_keep_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "run-20261121-180000.pcraw"
    writer = RawLogWriter.create(log)  # a sensor connected, and nothing more
    writer.event(0.0, POD, "connected")
    writer.close()
    done = companion("import", str(log))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "companion: run-20261121-180000.pcraw: no data the coach can use (no movement it can "
        "analyse, no heart rate, no distance), so nothing was kept"
    )
    with Store(paths.history_db()) as history:
        assert history.runs() == []
    assert log.exists()


def _zero() -> dict[str, object]:
    return RunStats(0.0, 0.0, None, 0.0, 0.0, (), 0, 0).to_dict()


def test_a_run_that_ends_with_nothing_is_not_kept(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    with RunRecorder(db, NewRun("run-empty", FIRST, "live run", "live")) as empty:
        empty.show(Summary(t=0.0, text="Run complete: 0 seconds.", stats=_zero()))
    with RunRecorder(db, NewRun("run-short", FIRST, "live run", "live")) as short:
        short.second(Second(t=1.0, running=False))
        short.show(Summary(t=1.0, text="Run complete: 1 second.", stats=_zero()))
    assert (empty.kept, short.kept) == (False, True)
    # Left open by a killed process, with nothing in it: not kept either.
    conn = store.connect(db)
    store.insert_run(conn, "run-killed", FIRST, "live run", "live", {}, None)
    conn.close()
    assert recover(db) == []
    with Store(db) as history:
        assert [r.name for r in history.runs()] == ["run-short"]


def test_retention_drops_the_detail_of_old_runs_and_says_so(
    history: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = FIRST + timedelta(days=9)  # the first run is 9 days old, the second 6
    with caplog.at_level(logging.WARNING):
        housekeeping(history, keep_detail_days=7, now=now)
    with Store(history) as kept:
        old, middle, new = sorted(kept.runs(), key=lambda r: r.started)
        assert old.detail_dropped and middle.detail_dropped is None is new.detail_dropped
        assert kept.seconds(old.id) == [] and kept.steps(old.id) == []
        assert kept.seconds(middle.id) and kept.episodes(old.id)  # drifts and cues stay
        assert old.summary and old.held_s
    assert "run-20261102-073000" in caplog.text and "were dropped" in caplog.text


def _said(out: str) -> str:
    return " ".join(out.split())  # as one line, however the terminal wrapped it


def test_retention_waits_to_be_asked_says_what_it_dropped_and_gives_the_space_back(
    history: Path,
) -> None:
    # A file made before its space could be given back a little at a time.
    conn = sqlite3.connect(history, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum = NONE")
    conn.execute("VACUUM")
    conn.close()
    keep = (datetime.now(FIRST.tzinfo) - FIRST).days - 1  # the first run is older, not the rest
    write_config(f"[history]\nkeep_detail_days = {keep}\n")
    before = history.read_bytes()
    listed = json.loads(companion("history", "--json").stdout)
    assert [r["detail_dropped"] for r in listed] == [None, None, None]
    assert json.loads(companion("summary", "1", "--json").stdout)["summary"]
    assert history.read_bytes() == before  # commands that read change nothing

    with Store(history) as kept:
        seconds, steps, _ = kept.detail_size(1)
    pruned = companion("history", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    said = _said(pruned.stdout)
    assert (
        f"Retention (keep_detail_days = {keep}): run 1 (run-20261102-073000, 2026-11-02) "
        f"kept its totals, drifts and cues; its {seconds} seconds, {steps} steps and 0 kB of "
        "raw sensor data were dropped. The history file gave back "
    ) in said
    assert seconds > 1400 and "run 2 " not in said and "run 3 " not in said
    listed = json.loads(companion("history", "--json").stdout)
    assert [r["detail_dropped"] is None for r in listed] == [True, True, False]
    assert len(history.read_bytes()) < len(before)
    with Store(history) as kept:
        assert kept.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == store.INCREMENTAL
        assert kept.seconds(1) == [] and kept.episodes(1) and kept.seconds(2)
    assert "nothing was dropped" in _said(companion("history", "--prune").stdout)
    # From now on a deleted run's space goes back as it goes.
    size = history.stat().st_size
    assert companion("delete", "2", "--yes").returncode == 0
    assert history.stat().st_size < size


def _kept(db: Path, name: str, when: datetime, kind: str) -> int:
    """A run of 20 minutes as a recorder keeps it: judged from minute 5, form held."""
    with RunRecorder(db, NewRun(name, when, "test", kind)) as recorder:
        for t in range(1, 1201):
            recorder.second(Second(t=float(t), running=True, judged=t > 300, cadence_spm=170.0))
        stats = RunStats(1200.0, 1200.0, 170.0, 900.0, 900.0, (), 0, 0)
        recorder.show(Summary(t=1200.0, text="Run complete.", stats=stats.to_dict()))
    return recorder.id


def test_runs_are_compared_like_with_like_and_a_replay_is_never_your_last_run(
    history: Path,
) -> None:
    from companion.form.rules import load_rules
    from companion.history.report.page import gather

    live = _kept(history, "run-live", FIRST + timedelta(days=9), "live")
    replay = _kept(history, "run-replay", FIRST + timedelta(days=10), "replay")
    table = companion("history").stdout
    rows = dict(re.findall(r"^ *(\d+) +\d{4}-\d\d-\d\d \d\d:\d\d +(\w+)", table, re.M))
    assert rows == {"5": "replay", "4": "live", "3": "import", "2": "import", "1": "import"}
    # The replay is the newest, but not your last run.
    assert json.loads(companion("summary", "--json").stdout)["run"] == "run-live"
    # The live run has no live run before it, the replay nothing to be compared with: the
    # imports are neither's. The imports are compared with each other.
    for ref in (live, replay):
        text = json.loads(companion("summary", str(ref), "--json").stdout)["summary"]
        assert "Form held 15 of 15 minutes." in text and " than " not in text, text
    imported = json.loads(companion("summary", "3", "--json").stdout)["summary"]
    assert "less than on Thursday" in imported
    with Store(history) as kept:
        assert kept.last() == kept.run(live)
        rules = load_rules()
        assert [r.id for r in gather(kept, kept.run(live), rules).trend] == [live]
        assert [r.id for r in gather(kept, kept.run(replay), rules).trend] == [replay]
        assert [r.id for r in gather(kept, kept.run(2), rules).trend] == [1, 2]


def test_a_full_disk_stops_the_history_not_the_run(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    recorder = RunRecorder(db, NewRun("run-full", FIRST, "live run", "live"))
    # A quota the file has reached: SQLite answers as on a full disk.
    pages = recorder._conn.execute("PRAGMA page_count").fetchone()[0]
    recorder._conn.execute(f"PRAGMA max_page_count = {pages}")
    big = {f"pelvis.m{i}": float(i) for i in range(400)}
    for t in range(1, 30):
        recorder.second(Second(t=float(t), running=True, values=big))
    wait_until(lambda: recorder.broken is not None, timeout=10)
    assert "full" in recorder.broken  # type: ignore[operator]
    recorder._conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    recorder.close()
    with Store(db) as history:
        assert [s.t for s in history.seconds(history.run("run-full").id)] == list(
            map(float, range(1, 30))
        )


def test_a_damaged_file_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot be used as the run history"):
        Store(db)


def test_import_of_a_raw_log_keeps_it_byte_for_byte(tmp_path: Path) -> None:
    # Ten minutes from a footpod at 3 m/s and 170 steps a minute, as a live run logs it.
    log = tmp_path / "run-20261121-180000.pcraw"  # named as the daemon names them
    footpod_log(log)
    imported = companion("import", str(log))
    assert imported.returncode == 0, imported.stderr
    # Its pace as it is printed, not as it is said ("5 33 a kilometre").
    printed = " ".join(imported.stdout.split())  # as wrapped to the terminal
    assert "1.8 kilometres, 5:34 /km, cadence 170." in printed and "a kilometre" not in printed
    printed = " ".join(companion("summary").stdout.split())
    assert "1.8 kilometres, 5:34 /km, cadence 170." in printed and "a kilometre" not in printed
    assert "5:34 /km" in companion("history").stdout
    said = json.loads(companion("summary", "--json").stdout)["summary"]
    assert "1.8 kilometres, 5 34 a kilometre, cadence 170." in said  # spoken stays spoken
    again = companion("import", str(log))
    assert again.returncode == 2 and "is already kept as run 1 (" in again.stderr
    with Store(paths.history_db()) as history:
        run = history.run()
        assert run.started.replace(tzinfo=None) == datetime(2026, 11, 21, 18, 0)
        assert history.raw_log(run.id) == log.read_bytes()
        assert run.distance_m == pytest.approx(1797, abs=5)  # from its first reading
        assert run.cadence_spm == pytest.approx(170, abs=0.5)
        assert run.judged_s and run.judged_s > 300
        speeds = {s.speed_mps for s in history.seconds(run.id) if s.running}
        assert speeds == {3.0}
