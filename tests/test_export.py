"""`companion export`: a kept run as FIT, CSV and JSON, each read back and held against the
history. The FIT file is read by fitdecode, a decoder of its own, not the SDK that wrote it,
and checked by the SDK's decoder too."""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from statistics import fmean
from typing import Any

import fitdecode
import pytest
from garmin_fit_sdk import Decoder, Stream

from companion import paths
from companion.coaching.engine import EngineSettings
from companion.form.metrics import METRICS, SOURCES
from companion.form.record import RunInfo, Second
from companion.form.rules import load_rules
from companion.history.export import csv_text
from companion.history.fit import fit_bytes, strides
from companion.history.importer import import_run
from companion.history.runs import run_dict
from companion.history.store import Store
from cues.catalogue import load_catalogue
from sensors.samples import FootpodSample, HeartRateSample, Sample
from tests.test_cli import companion

Messages = dict[str, list[dict[str, Any]]]
# Started off the whole second and away from UTC, as a live run is.
POD_START = datetime.fromisoformat("2026-11-12T18:05:30.250+01:00")
# (seconds, speed m/s, cadence steps/min): a run, a stop at a crossing, a faster run.
POD_PHASES = ((400, 3.2, 171.5), (40, 0.0, 0.0), (400, 3.4, 174.25))


def footpod_and_strap() -> Iterator[Sample]:
    """A footpod that had counted 5 km before this run, and a chest strap, once a second."""
    t, distance = 0.0, 5000.0
    for seconds, speed, cadence in POD_PHASES:
        for _ in range(seconds):
            t += 1.0
            distance += speed
            yield FootpodSample(t, speed_mps=speed, cadence_spm=cadence, distance_m=distance)
            yield HeartRateSample(t + 0.5, 140.0 + t % 20 + 0.4)


@pytest.fixture(scope="module")
def pod_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history of one run with speed, distance and heart rate, analysed by the engine."""
    db = tmp_path_factory.mktemp("pod") / "history.sqlite"
    import_run(
        db,
        "footpod and strap",
        footpod_and_strap(),
        load_catalogue(),
        load_rules(),
        EngineSettings(),
        POD_START,
    )
    return db


def into_data_folder(built: Path) -> Path:
    """A copy of the built history where `companion` finds it (this test's XDG_DATA_HOME)."""
    return Path(shutil.copy(built, paths.history_db()))


def stored(db: Path, ref: str | None = None) -> tuple[RunInfo, list[Second]]:
    with Store(db) as history:
        run = history.run(ref)
        return run, history.seconds(run.id)


def decoded(path: Path) -> Messages:
    """The FIT file as fitdecode reads it, failing on any CRC or format error."""
    out: Messages = {}
    crcs = []
    with fitdecode.FitReader(
        path, check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.RAISE
    ) as fit:
        for frame in fit:
            if isinstance(frame, fitdecode.FitHeader):
                crcs.append(frame.crc_matched)
            elif isinstance(frame, fitdecode.FitCRC):
                crcs.append(frame.matched)
            elif isinstance(frame, fitdecode.FitDataMessage):
                out.setdefault(frame.name, []).append({f.name: f.value for f in frame.fields})
    assert crcs == [True, True]  # the header's and the file's
    return out


def garmin_records(data: bytes) -> int:
    """The records of the FIT file as the SDK's own decoder reads it: whole, without errors."""
    assert Decoder(Stream.from_byte_array(bytearray(data))).check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    assert errors == []
    return len(messages["record_mesgs"])


def utc_second(when: datetime) -> datetime:
    """A time as FIT keeps it: whole seconds, UTC."""
    return datetime.fromtimestamp(math.floor(when.timestamp()), UTC)


def spm(mesg: dict[str, Any], whole: str, fraction: str) -> float:
    """Steps per minute from FIT's strides per minute and their fraction."""
    return 2 * float(mesg[whole] + mesg[fraction])


def check_fit(path: Path, run: RunInfo, seconds: list[Second]) -> Messages:
    """What every exported FIT file must hold of the run, and the messages for more."""
    fit = decoded(path)
    assert garmin_records(path.read_bytes()) == len(seconds)

    (file_id,) = fit["file_id"]
    assert file_id["type"] == "activity" and file_id["manufacturer"] == "development"
    assert file_id["time_created"] == utc_second(run.started)

    # One record a second, as the history keeps it, within FIT's resolution.
    records = fit["record"]
    assert len(records) == len(seconds)
    for r, s in zip(records, seconds, strict=True):
        assert r["timestamp"] == utc_second(run.started + timedelta(seconds=s.t))
        if s.cadence_spm is None:
            assert "cadence" not in r
        else:  # strides/min in 1/128ths: within 1/128 step/min
            cadence = spm(r, "cadence", "fractional_cadence")
            assert cadence == pytest.approx(s.cadence_spm, abs=1 / 128)
        for field, value, resolution in (
            ("speed", s.speed_mps, 0.001),
            ("enhanced_speed", s.speed_mps, 0.001),
            ("distance", s.distance_m, 0.01),
            ("heart_rate", s.heart_rate_bpm, 1),
        ):
            if value is None:
                assert field not in r
            else:
                assert r[field] == pytest.approx(value, abs=resolution / 2 + 1e-9)

    # The timer runs while the runner ran: start, stop_all at a stop, start on again.
    timer = [(e["timestamp"], e["event_type"]) for e in fit["event"] if e["event"] == "timer"]
    kinds = [kind for _, kind in timer]
    assert kinds == ["start", "stop_all"] * (len(kinds) // 2) and kinds
    spans = zip(timer[::2], timer[1::2], strict=True)
    timed = sum((stop - start).total_seconds() for (start, _), (stop, _) in spans)
    assert timed == run.running_s == sum(s.running for s in seconds)

    (session,) = fit["session"]
    running = [s for s in seconds if s.running]
    cadences = [s.cadence_spm for s in running if s.cadence_spm is not None]
    assert session["sport"] == "running"
    assert session["start_time"] == utc_second(run.started)
    assert session["total_timer_time"] == run.running_s
    assert session["total_elapsed_time"] == seconds[-1].t
    assert run.cadence_spm is not None
    average = spm(session, "avg_running_cadence", "avg_fractional_cadence")
    assert average == pytest.approx(fmean(cadences), abs=1 / 128)
    assert average == pytest.approx(run.cadence_spm, abs=0.05 + 1 / 128)  # kept to 0.1
    if run.distance_m is None:
        assert "total_distance" not in session
    else:
        assert session["total_distance"] == pytest.approx(run.distance_m, abs=0.005)
        assert session["avg_speed"] == pytest.approx(run.distance_m / run.running_s, abs=5e-4)

    # Laps follow each other from the start to the end, and add up to the session.
    laps = fit["lap"]
    assert (session["num_laps"], session["first_lap_index"]) == (len(laps), 0)
    assert laps[0]["start_time"] == session["start_time"]
    assert laps[-1]["timestamp"] == session["timestamp"]
    for before, after in pairwise(laps):
        assert after["start_time"] == before["timestamp"]
    for field in ("total_timer_time", "total_elapsed_time", "total_distance"):
        if field in session:
            assert sum(lap[field] for lap in laps) == pytest.approx(session[field], abs=0.02)

    (activity,) = fit["activity"]
    assert activity["num_sessions"] == 1
    assert activity["total_timer_time"] == run.running_s
    assert activity["timestamp"] == session["timestamp"]
    offset = activity["local_timestamp"] - activity["timestamp"]
    assert offset == run.started.utcoffset()
    return fit


def write_fit(tmp_path: Path, run: RunInfo, seconds: list[Second]) -> Path:
    path = tmp_path / f"{run.name}.fit"
    path.write_bytes(fit_bytes(run, seconds))
    return path


def test_running_cadence_is_in_strides_with_the_half_kept() -> None:
    assert strides(171.5) == (85, 0.75)
    assert strides(170.0) == (85, 0.0)
    assert strides(157.0) == (78, 0.5)


def test_a_run_with_footpod_and_strap_as_fit(pod_history: Path, tmp_path: Path) -> None:
    run, seconds = stored(pod_history)
    assert run.distance_m and run.heart_rate_bpm  # what the hip runs lack
    fit = check_fit(write_fit(tmp_path, run, seconds), run, seconds)

    records = fit["record"]
    assert records[100]["distance"] == pytest.approx(100 * 3.2)  # from where the run began
    assert {r.get("heart_rate") for r in records} >= {141, 150, 159}
    # The stop at the crossing stops the timer (once the window has left the running).
    (session,) = fit["session"]
    assert 40 <= session["total_elapsed_time"] - session["total_timer_time"] <= 45
    events = [e for e in fit["event"] if e["event"] == "timer"]
    assert [e["timer_trigger"] for e in events] == ["manual", "auto", "auto", "manual"]

    # A lap each kilometre, at the first second past it, the rest a last lap.
    laps = fit["lap"]
    assert [lap["lap_trigger"] for lap in laps] == ["distance", "distance", "session_end"]
    for k, lap in enumerate(laps[:-1], start=1):
        end = next(s for s in seconds if s.distance_m is not None and s.distance_m >= 1000 * k)
        assert lap["timestamp"] == utc_second(run.started + timedelta(seconds=end.t))
        assert 1000 * k <= sum(lap["total_distance"] for lap in laps[:k]) < 1000 * k + 3.5
    assert spm(laps[0], "avg_running_cadence", "avg_fractional_cadence") == 171.5
    assert spm(laps[-1], "avg_running_cadence", "avg_fractional_cadence") == 174.25
    assert laps[0]["avg_speed"] == pytest.approx(3.2, abs=0.05)
    assert laps[-1]["max_speed"] == pytest.approx(3.4)
    # Heart rate averaged over the running seconds, as FIT's averages leave the stops out.
    rates = [s.heart_rate_bpm for s in seconds if s.running and s.heart_rate_bpm is not None]
    assert session["avg_heart_rate"] == round(fmean(rates))
    assert session["max_heart_rate"] == round(max(rates))


def test_a_hip_run_without_distance_is_one_lap(kept_history: Path, tmp_path: Path) -> None:
    run, seconds = stored(kept_history, "1")
    fit = check_fit(write_fit(tmp_path, run, seconds), run, seconds)
    (lap,) = fit["lap"]
    assert lap["lap_trigger"] == "session_end" and "total_distance" not in lap
    assert not any("speed" in r or "heart_rate" in r for r in fit["record"])
    assert len(fit["event"]) > 4  # the runner stopped a few times: the timer did too


def test_csv_holds_every_second_and_metric(pod_history: Path, kept_history: Path) -> None:
    for db, first in ((pod_history, "footpod.cadence_spm"), (kept_history, "pelvis.cadence_spm")):
        run, seconds = stored(db)
        rows = list(csv.DictReader(csv_text(run, seconds).splitlines()))
        assert len(rows) == len(seconds)
        seen = {k for s in seconds for k in s.values}
        metrics = [k for m in METRICS for src in SOURCES if (k := f"{src}.{m}") in seen]
        header = list(rows[0])
        assert header[:3] == ["t_s", "time", "running"] and header[9:] == metrics
        assert metrics[0] == first
        for row, s in zip(rows, seconds, strict=True):
            assert float(row["t_s"]) == s.t
            when = datetime.fromisoformat(row["time"])
            assert when == run.started + timedelta(seconds=s.t) and when.utcoffset()
            assert (row["running"], row["judged"]) == (str(int(s.running)), str(int(s.judged)))
            assert row["drifting"] == str(int(s.drifting))
            for field in ("cadence_spm", "speed_mps", "distance_m", "heart_rate_bpm"):
                value = getattr(s, field)
                assert row[field] == ("" if value is None else repr(value))
            assert {k: float(row[k]) for k in metrics if row[k]} == s.values


def test_the_command_writes_private_files_that_hold_the_run(
    kept_history: Path, tmp_path: Path
) -> None:
    db = into_data_folder(kept_history)
    out = tmp_path / "out"
    out.mkdir()
    old = out / "run.csv"
    old.write_text("an older export, readable by all\n")
    old.chmod(0o644)
    done = companion(
        "export",
        "run-20261102-073000",
        "--fit",
        str(out / "run.fit"),
        "--csv",
        str(old),
        "--json",
        str(out / "run.json"),
        "--force",  # the older one replaced as asked (tests/test_outputs.py)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("written to") == 3
    for name in ("run.fit", "run.csv", "run.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    assert sorted(p.name for p in out.iterdir()) == ["run.csv", "run.fit", "run.json"]

    with Store(db) as history:
        run = history.run("run-20261102-073000")
        seconds, steps = history.seconds(run.id), history.steps(run.id)
        episodes, cues = history.episodes(run.id), history.cues(run.id)
        baseline = history.baseline(run.id)
    assert (out / "run.fit").read_bytes() == fit_bytes(run, seconds)
    assert (out / "run.csv").read_bytes() == csv_text(run, seconds).encode()

    kept = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert kept["run"] == run_dict(run)
    assert datetime.fromisoformat(kept["run"]["started"]) == run.started
    assert [Second(**s) for s in kept["seconds"]] == seconds
    assert [tuple(step.values()) for step in kept["steps"]] == [tuple(s) for s in steps]
    assert kept["episodes"] == [ep.to_dict() for ep in episodes] and episodes  # it drifted
    said = [(c["t"], c["cue"], c["category"], c["text"], c["episode"]) for c in kept["cues"]]
    assert said == cues
    answered = [c["corrected_after_s"] for c in kept["cues"] if c["category"] == "form"]
    assert answered and all(a is None or 0 <= a <= 600 for a in answered)
    assert {m: (b["value"], b["spread"]) for m, b in kept["baseline"].items()} == baseline

    # The last run by default; a file of each format is asked for.
    done = companion("export", "--csv", str(out / "last.csv"))
    assert done.returncode == 0, done.stderr
    last, _ = stored(db)
    assert last.name in done.stdout and last.name != run.name
    done = companion("export", "1")
    assert done.returncode != 0 and "--fit FILE" in done.stderr


def test_a_run_whose_seconds_were_dropped_says_so(kept_history: Path, tmp_path: Path) -> None:
    db = into_data_folder(kept_history)
    with Store(db) as history:
        history.drop_detail(history.run("2"), datetime(2027, 3, 1, tzinfo=UTC))
    out = tmp_path / "out"
    out.mkdir()
    done = companion("export", "2", "--fit", str(out / "run.fit"), "--json", str(out / "run.json"))
    assert done.returncode != 0
    assert "dropped on 2027-03-01" in done.stderr and "keep_detail_days" in done.stderr
    assert list(out.iterdir()) == []  # nothing written, not even in part
    done = companion("export", "3", "--fit", str(out / "missing" / "run.fit"))
    assert done.returncode != 0 and "cannot write" in done.stderr
