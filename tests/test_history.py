"""The run history: a real SQLite file, its schema and migrations, runs kept as they happen,
a run a killed daemon left recovered at the next start, and the commands that read it."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import struct
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from companion import paths, store
from companion.recorder import NewRun, RunRecorder, housekeeping, lock_path, recover
from companion.run_record import RunInfo, Second
from companion.store import Store, StoreError
from companion.summary import RunStats, compared, stats_of, summary_text
from sensors.profiles import RSC_MEASUREMENT
from sensors.rawlog import RawLogWriter
from tests.conftest import assert_speech
from tests.history_data import FIRST, copy_to
from tests.test_cli import companion
from tests.test_daemon import HIP_RUN, ask, running_daemon, wait_until, write_config


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
        assert history.conn.execute("PRAGMA user_version").fetchone()[0] == store.VERSION == 2
        old = history.run(1)
        assert (old.drift_onset_s, old.drifts, old.detail_dropped) == (480.5, 2, None)
        assert old.form_held == pytest.approx(700 / 840)
        assert [ep.start for ep in history.episodes(1)] == [480.5, 610.0]
        assert history.run(2).drift_onset_s is None  # left for its recovery to fill in
    # Opening again changes nothing; a file from a newer release is left alone.
    assert store.migrate(store.connect(db)) == store.VERSION
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer posture-companion"):
        Store(db)


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


def test_a_run_killed_mid_way_is_recovered_at_the_next_start(tmp_path: Path) -> None:
    write_config("[coach]\nwarmup_s = 30\n")
    db = paths.history_db()
    with running_daemon(tmp_path) as (proc, _notify, _log):
        ask("start", "--replay", str(HIP_RUN), "--speed", "40")
        status = wait_until(lambda: (s := ask("status"))["run_s"] >= 300 and s, timeout=120)
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
        # A new run is kept beside it, and its summary, said at its end, compares the two.
        ask("start", "--replay", str(HIP_RUN), "--speed", "0")
        last = wait_until(lambda: ask("status").get("last_run"), timeout=120)
        assert "Form held" in last["summary"] and " than " in last["summary"], last
        listed = json.loads(companion("history", "--json").stdout)
        assert [r["state"] for r in listed] == ["finished", "recovered"]


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
    assert asked.returncode == 1 and "--yes" in asked.stdout
    deleted = companion("delete", "1", "--yes")
    assert deleted.returncode == 0 and "Deleted run 1" in deleted.stdout
    with Store(history) as kept:
        assert [r.id for r in kept.runs()] == [3, 2]
        assert kept.seconds(1) == [] and kept.episodes(1) == []


def test_import_keeps_a_recording_with_its_raw_notifications(tmp_path: Path) -> None:
    # The daemon's raw log of a live run goes in byte for byte; a CSV recording is analysed.
    imported = companion(
        "import", str(HIP_RUN), "--when", "2026-11-20T07:30", "--placement", "hip=pelvis"
    )
    assert imported.returncode == 0, imported.stderr
    assert "Kept as run 1 (run-20261120-073000)" in imported.stdout
    with Store(paths.history_db()) as history:
        run = history.run(1)
        assert run.kind == "import" and run.started.hour == 7
        assert run.cadence_spm is not None and 150 < run.cadence_spm < 165


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
    writer = RawLogWriter.create(log)
    pod = {"address": "C0:00:00:00:00:02", "name": "Footpod", "role": "footpod"}
    for t in range(1, 601):
        flags = 0x02 | 0x04  # distance present, running
        packet = struct.pack("<BHBI", flags, 3 * 256, 170, t * 30)  # distance in decimetres
        writer.packet(float(t), pod, RSC_MEASUREMENT, packet)
    writer.close()
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
    assert again.returncode == 1 and "kept already as run 1" in again.stdout
    with Store(paths.history_db()) as history:
        run = history.run()
        assert run.started.replace(tzinfo=None) == datetime(2026, 11, 21, 18, 0)
        assert history.raw_log(run.id) == log.read_bytes()
        assert run.distance_m == pytest.approx(1797, abs=5)  # from its first reading
        assert run.cadence_spm == pytest.approx(170, abs=0.5)
        assert run.judged_s and run.judged_s > 300
        speeds = {s.speed_mps for s in history.seconds(run.id) if s.running}
        assert speeds == {3.0}
