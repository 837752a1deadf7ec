"""The `companion` command end to end, as a runner runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from companion.run.demo import DEMO_FAULT
from cues.wavfile import read_wav
from tests.conftest import OUTDOOR, RAW_SAMPLE, TREADMILL, assert_speech, speech_level
from tests.pulse import PulseSink

Demo = tuple[list[dict[str, Any]], Path]
COMPANION = str(Path(sys.executable).parent / "companion")


def companion(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The command as a script runs it: no terminal (nothing it could ask on)."""
    return subprocess.run(
        [COMPANION, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def replay_json(file: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`companion replay FILE` as fast as it goes, JSON on stdout, sound into WAV files."""
    return companion(
        "replay", str(file), *extra, "--json", "--speed", "0", "--audio", "files", "--out", str(out)
    )


def json_lines(out: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in out.splitlines()]  # every line is JSON
    assert all("t" in e and "kind" in e for e in events)
    return events


@pytest.fixture(scope="module")
def demo_json(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    out = tmp_path_factory.mktemp("demo-wavs")
    done = companion("demo", "--json", "--speed", "0", "--audio", "files", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "written as" in done.stderr and str(out) in done.stderr
    return json_lines(done.stdout), out


def test_demo_json_shows_the_fault_then_the_drift_then_the_cue(demo_json: Demo) -> None:
    events, _ = demo_json
    kinds = [e["kind"] for e in events]
    (fault,) = [e for e in events if e["kind"] == "fault_injected"]
    assert fault["t"] == DEMO_FAULT.start_s and "Injected for the demo" in fault["text"]
    drifts = [e for e in events if e["kind"] == "drift_start"]
    assert drifts and all(d["t"] > fault["t"] for d in drifts)
    # Slower steps also bounce higher (height grows with the square of the step time).
    assert {"anterior_tilt", "overstride"} <= {d["id"] for d in drifts}
    assert {d["id"] for d in drifts} <= {"anterior_tilt", "overstride", "bounce"}
    form = [e for e in events if e["kind"] == "cue" and e["category"] == "form"]
    assert form and min(c["t"] for c in form) > fault["t"]  # none before the fault
    assert min(c["t"] for c in form) >= min(d["t"] for d in drifts)
    assert kinds[-1] == "summary" and kinds.count("summary") == 1
    assert events[-1]["text"].startswith("Run complete")
    times = [e["t"] for e in events]
    assert times == sorted(times)


def test_demo_audio_files_exist_and_hold_speech(demo_json: Demo) -> None:
    events, out = demo_json
    spoken = [e for e in events if e["kind"] in ("cue", "summary")]
    for e in spoken:
        assert e["id" if e["kind"] == "cue" else "kind"] and e["text"]
        assert_speech(Path(e["audio"]), max_s=15.0 if e["kind"] == "cue" else 25.0)
    written = sorted(out.iterdir())
    assert len(written) == len(spoken)  # one file per utterance, in order
    assert written[-1].name.endswith("-summary.wav")
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in written)


def test_demo_timeline_ends_with_the_summary_text(tmp_path: Path) -> None:
    done = companion("demo", "--speed", "0", "--audio", "files", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "DEMO FAULT STARTS",
        "baseline learned",
        "drift: pelvis tipping forward",
        "🔊",
        "paused",
        "Run summary",
    ):
        assert expected in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Summary: Run complete")


def test_replay_of_the_unaltered_run_says_nothing_about_form(
    running_data: Path, tmp_path: Path
) -> None:
    done = replay_json(OUTDOOR, tmp_path)
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    assert events[0]["kind"] == "start" and events[0]["sensor"] == "hip"
    assert not [e for e in events if e["kind"] == "drift_start"]
    assert not [e for e in events if e["kind"] == "cue" and e["category"] == "form"]
    assert "No drift" in events[-1]["text"]


@pytest.mark.parametrize(
    ("file", "extra"),
    [
        (TREADMILL, []),
        (TREADMILL, ["--trial", "4"]),
        (RAW_SAMPLE, ["--sensor", "acc", "--placement", "acc=pelvis"]),
    ],
    ids=["treadmill", "one-trial", "raw-512hz"],
)
def test_replay_takes_every_recording_in_the_data_folder(
    running_data: Path, tmp_path: Path, file: Path, extra: list[str]
) -> None:
    done = replay_json(file, tmp_path, *extra)
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    assert events[-1]["kind"] == "summary"
    assert "Too short to learn your form" in events[-1]["text"]


def test_a_five_second_trial_reports_its_length_and_why_nothing_was_judged(
    running_data: Path, tmp_path: Path
) -> None:
    done = replay_json(TREADMILL, tmp_path, "--trial", "4")
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert summary["kind"] == "summary"
    assert summary["stats"]["duration_s"] == pytest.approx(4.96, abs=0.05)  # rounded
    assert summary["text"] == (
        "Run complete: 5 seconds. "
        "Too short to learn your form: that takes 3 minutes of steady running."
    )


def test_replay_refuses_bad_input_with_a_clear_message(running_data: Path, tmp_path: Path) -> None:
    done = companion("replay", str(RAW_SAMPLE), "--speed", "0")
    assert done.returncode == 2 and "--placement acc=pelvis" in done.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("t_s,hip_x_g,hip_y_g,hip_z_g\n0,a,0,1\n")
    done = companion("replay", str(broken))
    assert done.returncode == 2 and str(broken) in done.stderr and "not a number" in done.stderr
    done = companion("replay", str(tmp_path / "missing.csv"))
    assert done.returncode == 2 and "cannot read" in done.stderr
    done = companion("replay", str(OUTDOOR), "--placement", "hip=knee")
    assert done.returncode == 2 and "PLACEMENT one of" in done.stderr


def decisions(events: list[dict[str, Any]]) -> list[tuple[str, str | None, float]]:
    """What the coach decided and showed, in order: each event's kind, what it was about
    (its id or state) and its run time."""
    return [(e["kind"], e.get("id") or e.get("state"), e["t"]) for e in events]


@pytest.mark.audio
@pytest.mark.long
def test_the_demo_on_a_sound_device_coaches_as_it_does_into_files(
    pulse: PulseSink, tmp_path: Path
) -> None:
    # Faster than real time, the replay holds still while each cue is heard: the coach's
    # own clock, the run's, must not run on meanwhile. (A quick voice: less to wait for.)
    quick = ("--json", "--voice-engine", "pyttsx3", "--voice-rate", "360")
    in_files = companion("demo", *quick, "--speed", "0", "--audio", "files", "--out", str(tmp_path))
    assert in_files.returncode == 0, in_files.stderr
    recording = tmp_path / "monitor.raw"
    rec = pulse.record(recording)
    done = companion("demo", *quick, "--speed", "600", env=pulse.env)
    heard = PulseSink.stop(rec, recording)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no warning, no traceback, nothing fell back to files
    on_device, into_files = json_lines(done.stdout), json_lines(in_files.stdout)
    device, files = decisions(on_device), decisions(into_files)
    assert [d[:2] for d in device] == [f[:2] for f in files]
    assert all(abs(d[2] - f[2]) <= 1.0 for d, f in zip(device, files, strict=True))
    assert [e["t"] for e in on_device] == sorted(e["t"] for e in on_device)
    assert on_device[-1]["kind"] == "summary" and on_device[-1]["text"] == into_files[-1]["text"]
    # Everything said was heard.
    spoken = [e for e in on_device if e["kind"] in ("cue", "summary")]
    expected = sum(speech_level(read_wav(Path(e["audio"]))[0], 22050)[0] for e in spoken)
    voiced, _ = speech_level(heard, 22050)
    assert voiced == pytest.approx(expected, rel=0.2)


def test_the_demo_decides_the_same_every_time(demo_json: Demo, tmp_path: Path) -> None:
    again = companion(
        "demo", "--json", "--speed", "0", "--audio", "files", "--out", str(tmp_path / "wavs")
    )
    assert again.returncode == 0, again.stderr
    assert json_lines(again.stdout) == demo_json[0]
    said = [e for e in demo_json[0] if e["kind"] == "cue"]
    assert {"warmup", "baseline-set", "checkin", "well-done"} <= {e["id"] for e in said}
    # Scheduled check-ins come while running, never while the run is paused.
    state = "warmup"
    for e in demo_json[0]:
        state = e.get("state", state) if e["kind"] == "state" else state
        if e["kind"] == "cue" and e["id"] == "checkin":
            assert state == "running", e


def test_edited_cues_and_rules_are_used_and_checked(tmp_path: Path) -> None:
    cues = tmp_path / "cues.toml"
    cues.write_text(
        Path("cues/catalogue.toml")
        .read_text()
        .replace("Ribs down. Squeeze your glutes.", "Ribs in, pelvis level.")
    )
    done = companion(
        "demo",
        "--json",
        "--speed",
        "0",
        "--audio",
        "files",
        "--out",
        str(tmp_path / "out"),
        "--cues",
        str(cues),
    )
    assert done.returncode == 0, done.stderr
    said = [e["text"] for e in json_lines(done.stdout) if e["kind"] == "cue"]
    assert "Ribs in, pelvis level." in said

    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nmetric = "lean_deg"\ndirection = "sideways"\nthreshold = 3\n'
        'clear = 1\nfaults = { pelvis = "anterior_tilt" }\n'
    )
    done = companion("demo", "--speed", "0", "--rules", str(rules))
    assert done.returncode == 2 and f"{rules}: rule #1: field 'direction'" in done.stderr
    done = companion("replay", str(OUTDOOR), "--sensor", "knee")
    assert done.returncode == 2 and "has no sensor 'knee' (it has: hip, ankle)" in done.stderr
