"""`companion daemon` as a runner uses it: a process of its own, driven through its socket
by the `companion` command, telling systemd it is ready and alive, reloading on SIGHUP and
ending a run cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest
import time_machine

from companion import paths
from companion.daemon.control_socket import request, socket_path
from companion.daemon.service import Daemon
from companion.daemon.systemd import unit_text
from companion.history.store import Store
from companion.paths import config_path
from companion.run.demo import DEMO_RECORDING
from sensors.bluetooth import pairing
from sensors.profiles import PairedSensor, Role
from sensors.recorded.recording import load_recording
from tests.history_data import copy_to
from tests.test_cli import COMPANION, companion, json_lines, replay_json
from tests.test_cli_live import FOOTPOD, STRAP, free_port, simulator, stop
from tests.test_drills import TINY
from tests.test_schedule import local

HIP_RUN = DEMO_RECORDING


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[sound]\naudio = "files"\n' + text, encoding="utf-8")
    return path


class Notifications:
    """A stand-in for systemd's notification socket: what the daemon tells it, collected
    as it comes (as systemd does; the daemon drops what is not collected)."""

    def __init__(self, folder: Path):
        self.path = folder / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.said: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                self.said += self.sock.recv(4096).decode().splitlines()

    def wait_for(self, message: str, timeout: float = 60.0) -> None:
        wait_until(lambda: message in self.said, timeout, every=0.05)

    def count(self, message: str) -> int:
        return self.said.count(message)


@contextmanager
def running_daemon(
    tmp_path: Path, watchdog_usec: int = 0, journal: bool = False
) -> Iterator[tuple[subprocess.Popen[str], Notifications, Path]]:
    notify = Notifications(tmp_path)
    env = dict(os.environ, NOTIFY_SOCKET=str(notify.path), PYTHONFAULTHANDLER="1")
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        if journal:  # as systemd does when the log goes to journald
            stat = os.fstat(out.fileno())
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        proc = subprocess.Popen(
            [COMPANION, "daemon"], stdout=out, stderr=subprocess.STDOUT, text=True, env=env
        )
    try:
        notify.wait_for("READY=1")
        yield proc, notify, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        notify.sock.close()


def exited(proc: subprocess.Popen[str], log: Path, timeout: float = 60.0) -> int:
    """The daemon's exit status; if it hangs, where (its threads' stacks, in the failure)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
        proc.wait(timeout=10)
        raise AssertionError(f"the daemon did not exit:\n{log.read_text()}") from None


@contextmanager
def virtual_sensors() -> Iterator[str]:
    """`companion simulate`'s footpod and strap, paired; the transport that reaches them."""
    port = free_port()
    pairing.save(
        paths.paired_sensors(),
        [
            PairedSensor(FOOTPOD, Role.FOOTPOD, "Virtual Footpod"),
            PairedSensor(STRAP, Role.PELVIS, "Virtual Strap"),
        ],
    )
    sim = simulator(port, start=40)
    try:
        yield f"bumble:tcp-client:127.0.0.1:{port}"
    finally:
        stop(sim)


def ask(*args: str) -> dict[str, Any]:
    done = companion(*args, "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def daemon_status() -> dict[str, Any]:
    """What the daemon says now, asked over its socket as `companion status` asks: for the
    loops that wait on it, which would otherwise start a process for every look."""
    answer = request(socket_path(), "status", timeout=30.0)
    assert answer.pop("ok"), answer
    return answer


def refused(*args: str) -> str:
    done = companion(*args, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    return done.stderr


def wait_until(check: Any, timeout: float = 60.0, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("timed out")


def events_of(path: Path) -> list[dict[str, Any]]:
    return json_lines(path.read_text(encoding="utf-8"))


def test_a_broken_configuration_is_refused_before_anything_listens() -> None:
    path = write_config("[schedule]\ncheckin_min = -1\n")
    done = companion("daemon", timeout=60)
    assert done.returncode == 2
    assert str(path) in done.stderr
    assert "line 4" in done.stderr and "schedule.checkin_min" in done.stderr
    assert not socket_path().exists()


def test_a_catalogue_the_configuration_names_is_checked_before_anything_listens() -> None:
    config = write_config('[coach]\ncues = "gone.toml"\n')
    done = companion("daemon", timeout=60)
    assert done.returncode == 2
    assert done.stderr.endswith(
        f"{config.parent / 'gone.toml'}: cannot read the file: No such file or directory\n"
    )
    assert not socket_path().exists()


@pytest.mark.long
def test_ready_watchdog_socket_reload_and_a_clean_exit(tmp_path: Path) -> None:
    # espeak-ng: a reload with a new rate renders the catalogue again, which Piper takes
    # minutes to do on a machine kept busy.
    config = write_config(
        '[schedule]\ndrill_reminders = ["08:00", "19:30"]\n\n[speech]\nengine = "pyttsx3"\n'
    )
    with running_daemon(tmp_path, watchdog_usec=300_000, journal=True) as (proc, notify, log):
        sock = socket_path()
        assert sock.stat().st_mode & 0o777 == 0o600
        assert sock.parent.stat().st_mode & 0o777 == 0o700
        notify.wait_for("STATUS=idle")
        # The watchdog is fed again and again, not once: waited for, however busy the machine.
        wait_until(lambda: notify.count("WATCHDOG=1") >= 2, 60.0, every=0.05)

        second = companion("daemon", timeout=60)
        assert second.returncode == 2 and "a daemon already answers on" in second.stderr
        status = ask("status")
        assert status["state"] == "idle"
        assert status["next_drill_reminder"][11:16] in ("08:00", "19:30")
        assert "no run to pause" in refused("pause")
        assert "no run to stop" in refused("stop")
        assert ask("say", "Ribs", "down.")["said"] == "Ribs down."

        # SIGHUP: the new times are in force; a broken file leaves the old settings.
        config.write_text(
            config.read_text()
            .replace('"08:00", "19:30"', '"06:45"')
            .replace('engine = "pyttsx3"', 'engine = "pyttsx3"\nrate = 200'),
            encoding="utf-8",
        )
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: daemon_status()["next_drill_reminder"][11:16] == "06:45")
        wait_until(lambda: "opened again with the new settings" in log.read_text())
        config.write_text("[schedule]\nsplit_km = 'far'\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "<3>configuration not reloaded" in log.read_text())
        assert "<6>ready; listening on" in log.read_text()  # journald's priorities
        assert "schedule.split_km" in log.read_text()
        assert ask("status")["next_drill_reminder"][11:16] == "06:45"
        # So does a file naming a catalogue that is not there.
        config.write_text('[coach]\ncues = "gone.toml"\n', encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "gone.toml: cannot read the file" in log.read_text())
        assert ask("status")["next_drill_reminder"][11:16] == "06:45"

        proc.send_signal(signal.SIGTERM)
        assert exited(proc, log) == 0
        notify.wait_for("STOPPING=1")
    assert not sock.exists()
    no_daemon = companion("status", timeout=60)
    assert no_daemon.returncode == 3 and "companion daemon" in no_daemon.stderr
    said = list((platformdirs.user_data_path(paths.APP) / "audio").glob("daemon-*/*say*.wav"))
    assert said, "the said text was not written as sound"


@pytest.mark.long
def test_a_replayed_run_from_the_command_line(tmp_path: Path) -> None:
    # At 30 times real time a run minute is two seconds: a check-in every run minute.
    write_config("[schedule]\ncheckin_min = 1\nsplit_min = 2\n[coach]\nwarmup_s = 30\n")
    with running_daemon(tmp_path) as (_proc, _notify, _log):
        # Two starts at once: one run, and the other is told so.
        start = ("start", "--replay", str(HIP_RUN), "--speed", "30", "--json")
        with ThreadPoolExecutor(2) as pool:
            both = sorted(
                pool.map(lambda _: companion(*start, timeout=60), range(2)),
                key=lambda done: done.returncode,
            )
        assert [done.returncode for done in both] == [0, 2]
        assert json.loads(both[0].stdout)["state"] in ("connecting", "warmup")
        assert "a run is already going" in both[1].stderr
        wait_until(lambda: daemon_status()["state"] == "running", timeout=90)

        # Two clients at once: both answered, neither waits for the other's run.
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: ask("status"), range(2)))
        assert all(a["state"] in ("running", "paused") and a["metrics"]["steps"] for a in answers)

        paused = ask("pause")
        assert paused["state"] == "paused" and paused["paused_by"] == "you"
        assert "already paused" in refused("pause")
        said = companion("status").stdout  # as a runner reads it: words, not Python values
        assert "state" in said and "paused by you" in said and "since the start" in said
        for raw in ("True", "False", "None", "_s ", "_spm", "{"):
            assert raw not in said, said
        # Three run minutes: no check-in and no split while paused, and the run's time holds.
        wait_until(lambda: daemon_status()["run_s"] > paused["run_s"] + 180, timeout=60)
        assert ask("status")["running_s"] == paused["running_s"]
        resumed = ask("resume")
        assert resumed["state"] in ("running", "paused")
        wait_until(lambda: daemon_status()["running_s"] > resumed["running_s"] + 60, timeout=60)
        stopped = ask("stop")
        assert stopped["state"] == "finished"
        assert stopped["summary"].startswith("Run complete")
        status = ask("status")
        assert status["state"] == "finished"
        assert status["last_run"]["summary"] == stopped["summary"]

    events = events_of(Path(stopped["events_file"]))
    assert events[0]["kind"] == "start" and events[-1]["kind"] == "summary"
    assert Path(stopped["events_file"]).stat().st_mode & 0o777 == 0o600
    cues = [e for e in events if e["kind"] == "cue"]
    pause_t = next(e["t"] for e in cues if e["id"] == "run-paused")
    resume_t = next(e["t"] for e in cues if e["id"] == "run-resumed")
    scheduled = [e for e in cues if e["id"] in ("checkin", "split-time")]
    assert len([e for e in scheduled if e["t"] < pause_t]) >= 2
    assert [e for e in scheduled if pause_t < e["t"] < resume_t] == []
    assert any(e["id"] == "split-time" for e in scheduled)
    assert resume_t - pause_t > 120  # the replay went on while the run was paused


@pytest.mark.long
def test_sigterm_mid_run_leaves_a_complete_saved_run(tmp_path: Path) -> None:
    with virtual_sensors() as transport:
        write_config(f'[daemon]\ntransport = "{transport}"\n')
        with running_daemon(tmp_path) as (proc, notify, log):
            assert ask("start")["state"] == "connecting"
            status = wait_until(
                lambda: (
                    (s := daemon_status())["state"] == "warmup"
                    and s["metrics"].get("running_s", 0) >= 8
                    and s
                ),
                timeout=90,
            )
            assert {s["link"] for s in status["sensors"].values()} == {"connected"}
            events_file = Path(status["events_file"])
            proc.send_signal(signal.SIGTERM)
            assert exited(proc, log) == 0, log.read_text()
            notify.wait_for("STOPPING=1")

    events = events_of(events_file)
    assert events[-1]["kind"] == "summary"
    assert events[-1]["stats"]["running_s"] > 5
    audio = platformdirs.user_data_path(paths.APP) / "audio"
    assert list(audio.glob("daemon-*/*summary*.wav")), "the summary was not spoken"
    raw_log = events_file.with_name(events_file.name.replace(".events.jsonl", ".pcraw"))
    assert raw_log.stat().st_mode & 0o777 == 0o600
    with Store(paths.history_db()) as history:  # the history has it all, raw bytes too
        run = history.run()
        assert run.state == "finished" and run.kind == "live"
        assert run.running_s == events[-1]["stats"]["running_s"]
        assert history.raw_log(run.id) == raw_log.read_bytes()
        assert {s["name"] for s in run.sensors} >= {"Virtual Footpod", "Virtual Strap"}
    # Its raw log is that run: importing it keeps it twice no more.
    again = companion("import", str(raw_log))
    assert again.returncode == 2 and f"is already kept as run {run.id} (" in again.stderr
    replay = replay_json(raw_log, tmp_path / "wavs")
    assert replay.returncode == 0, replay.stderr
    replayed = json_lines(replay.stdout)
    assert {e["id"] for e in replayed if e["kind"] == "sensor"} == {
        "Virtual Footpod",
        "Virtual Strap",
    }
    assert replayed[-1]["stats"]["running_s"] >= events[-1]["stats"]["running_s"] - 3


def test_service_install_writes_a_user_unit_that_starts_this_companion() -> None:
    done = companion("service", "install", "--no-start", timeout=60)
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "posture-companion.service"
    if done.returncode != 0:
        # No systemd user session here: it says how to do without, and leaves nothing
        # (see the next test); the unit goes where it would have, for the checks below.
        assert "start the daemon yourself" in done.stderr, done.stderr
        unit.parent.mkdir(parents=True)
        unit.write_text(unit_text())
    text = unit.read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text
    assert f"ExecStart={sys.executable} -m companion daemon" in text
    if shutil.which("systemd-analyze"):  # systemd's own check of the unit, where it is
        checked = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "companion", "daemon", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SIGHUP" in help_text
    wants = unit.parent / "default.target.wants" / unit.name
    if not wants.exists():  # as `systemctl --user enable` links it
        wants.parent.mkdir()
        wants.symlink_to(unit)
    gone = companion("service", "uninstall", timeout=60)
    assert "Removed" in gone.stdout and not unit.exists() and not wants.is_symlink()


def test_service_install_without_a_user_session_leaves_nothing_behind(tmp_path: Path) -> None:
    """No session bus to reach (an empty runtime folder, none named): systemd cannot be
    asked, so the install is undone, and said in one line."""
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    config = Path(env["XDG_CONFIG_HOME"])
    done = companion("service", "install", env=env, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("companion: the service is not installed: systemctl")
    assert "start the daemon yourself: `companion daemon`" in line
    assert not (config / "systemd").exists()  # not the unit, nor the folders made for it
    # A unit installed before is left as it was.
    unit = config / "systemd" / "user" / "posture-companion.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\nDescription=the runner's own\n")
    done = companion("service", "install", "--no-start", env=env, timeout=60)
    assert done.returncode == 1
    assert unit.read_text() == "[Unit]\nDescription=the runner's own\n"
    assert [p.name for p in unit.parent.iterdir()] == [unit.name]


@pytest.mark.long
def test_auto_start_begins_a_run_when_the_footpod_shows_running(tmp_path: Path) -> None:
    with virtual_sensors() as transport:
        write_config(f'[daemon]\ntransport = "{transport}"\nauto_start = true\n')
        with running_daemon(tmp_path) as (_proc, _notify, log):
            assert ask("status")["auto_start"] is True
            status = wait_until(lambda: (s := daemon_status())["state"] == "warmup" and s, 90)
            assert status["auto_start"] is False  # watching stops while a run goes
            assert "running cadence on Virtual Footpod: starting a run" in log.read_text()
            stopped = ask("stop")
            assert stopped["summary"].startswith("Run complete")
            assert wait_until(lambda: daemon_status()["auto_start"], 30)  # watching again


def test_a_drill_reminder_is_said_between_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kept_history: Path
) -> None:
    """The daemon itself, in this process, moved through time: its stored reminder comes
    due and is said through its sound output, naming the session for the last run kept
    (in which the pelvis tipped forward)."""
    write_config('[schedule]\ndrill_reminders = ["08:00"]\n')
    copy_to(kept_history, tmp_path / "data")
    caplog.set_level(logging.INFO, logger="companion.daemon.service")

    async def morning() -> None:
        with time_machine.travel(local(2026, 11, 25, 7, 59, 50), tick=False) as clock:
            daemon = Daemon()
            main = asyncio.create_task(daemon.main())
            while not socket_path().exists():
                await asyncio.sleep(0.05)
            assert daemon.describe()["next_drill_reminder"] == "2026-11-25T08:00" + utc_offset()
            clock.move_to(local(2026, 11, 25, 8, 0, 1))
            daemon.scheduler.wakeup()
            while not list(audio.glob("daemon-*/*drill-reminder*.wav")):
                await asyncio.sleep(0.05)  # until it is said (the test's timeout bounds it)
            daemon.done.set()
            assert await main == 0

    audio = platformdirs.user_data_path(paths.APP) / "audio"
    asyncio.run(morning())
    said = list(audio.glob("daemon-*/*drill-reminder*.wav"))
    assert len(said) == 1
    assert "drill reminder: Drill time: hip mobility and strength." in caplog.text


def utc_offset() -> str:
    return local(2026, 11, 25, 8, 0).isoformat()[-6:]


@pytest.mark.long
def test_a_pause_asked_for_while_stopped_is_the_runners_to_resume(tmp_path: Path) -> None:
    """Stopped at a crossing, the run pauses itself; the runner pauses it on purpose too,
    and then it is theirs: resumed when they say, not when they move."""
    hip = load_recording(HIP_RUN).track("hip")
    moving = hip.t < 300
    # Long enough a stop that the run is still going however slowly the commands come.
    stand_t = np.arange(300.0, 2700.0, 0.01)
    still = hip.xyz[(hip.t > 305) & (hip.t < 325)].mean(axis=0)
    noise = np.random.default_rng(1).normal(0, 0.005, (len(stand_t), 3))
    path = tmp_path / "stops.csv"
    rows = np.column_stack([np.r_[hip.t[moving], stand_t], np.r_[hip.xyz[moving], still + noise]])
    np.savetxt(
        path, rows, fmt="%.3f", delimiter=",", header="t_s,hip_x_g,hip_y_g,hip_z_g", comments=""
    )
    write_config("")
    with running_daemon(tmp_path) as (_proc, _notify, _log):
        ask("start", "--replay", str(path), "--speed", "60")
        stopped = wait_until(
            lambda: (s := daemon_status())["state"] == "paused" and s["run_s"] > 320 and s, 60
        )
        assert stopped["paused_by"] == "stopped running"
        assert ask("pause")["paused_by"] == "you"
        assert "already paused" in refused("pause")
        resumed = ask("resume")
        assert resumed["state"] == "running" and resumed["paused_by"] is None
        ask("stop")


@pytest.mark.long
def test_a_drill_session_led_by_the_daemon(tmp_path: Path) -> None:
    session = tmp_path / "tiny.toml"
    session.write_text(TINY)
    write_config("")
    with running_daemon(tmp_path) as (_proc, _notify, _log):
        done = companion("drills", "play", str(session), timeout=60)
        assert done.returncode == 0 and "The daemon leads Tiny" in done.stdout, done.stderr
        assert ask("status")["drill"]["title"] == "Tiny"
        assert "Tiny is playing" in refused("start")
        assert "is playing" in companion("drills", "play", "posture-walk", timeout=60).stdout

        paused = ask("pause")["drill"]
        assert paused["paused"]
        time.sleep(1.5)
        assert ask("status")["drill"]["at"] == paused["at"]  # the session holds still
        assert "already paused" in refused("pause")
        # Moved about while paused, so that however slowly each command comes, "back" is
        # asked at the very start of a step. Where the pause found the session depends on
        # how fast the commands came: first to the start of the first step from there.
        if paused["step"] is None:
            assert ask("skip")["drill"]["step"] == "Wall sit"  # from the intro
        for _ in range(3):  # "back" goes to the start of a step, then to the one before
            if ask("back")["drill"]["step"] == "Wall sit":
                break
        assert ask("status")["drill"]["step"] == "Wall sit"
        assert ask("skip")["drill"]["step"] == "Squats"
        assert ask("back")["drill"]["step"] == "Wall sit"  # just begun: the one before
        assert ask("repeat")["drill"]["step"] == "Wall sit"
        assert not ask("resume")["drill"]["paused"]
        assert ask("stop")["drill"] == {"stopped": "Tiny"}
        status = ask("status")
        assert "drill" not in status and status["state"] == "idle"
        assert "no drill session is playing" in refused("skip")
    audio = platformdirs.user_data_path(paths.APP) / "audio"
    assert list(audio.glob("daemon-*/*drill-step.wav"))  # the steps were said
