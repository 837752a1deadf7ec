"""`companion simulate` in one process and `companion scan`, `pair` and `run` in another,
as a runner would use them: connect, stream, survive the simulator being stopped and
started again, and keep a raw log that replays to the same sensor events."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from companion import paths
from companion.history.store import Store
from tests.test_cli import COMPANION, companion, json_lines, replay_json

FOOTPOD, STRAP = "F0:5C:00:00:00:01", "F0:5C:00:00:00:02"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_simulator_left() -> Iterator[None]:
    """A test that fails half way leaves no simulator running behind it."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=20)


def simulator(port: int, start: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [COMPANION, "simulate", "--port", str(port), "--start", str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _STARTED.append(proc)
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until it says how to connect
        if "companion run --transport" in line:
            return proc
    raise AssertionError(f"the simulator did not start (exit {proc.wait()})")


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop the simulator as a runner would (Ctrl-C); what it printed meanwhile."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=20)[0]


class Events:
    """The JSON lines a running `companion run --json` prints, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def until(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 60) -> None:
        """Wait for the first event (from now on) that `wanted` picks."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                told = [
                    (e["t"], e.get("text") or e.get("link") or e.get("state")) for e in self.seen
                ]
                raise AssertionError(f"not seen within {timeout} s; the run told: {told}") from None
            if line is None:
                raise AssertionError(f"the run ended first: {self.seen[-3:]}")
            self.seen.append(json.loads(line))
            if wanted(self.seen[-1]):
                return

    def rest(self) -> list[dict[str, Any]]:
        while (line := self._lines.get(timeout=60)) is not None:
            self.seen.append(json.loads(line))
        return self.seen


def said(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == "cue" and e["text"] == text


def links(events: list[dict[str, Any]], link: str) -> set[str]:
    return {e["id"] for e in events if e["kind"] == "sensor" and e["link"] == link}


@pytest.mark.long
def test_scan_pair_run_and_survive_a_restarted_simulator(tmp_path: Path) -> None:
    port = free_port()
    transport = f"bumble:tcp-client:127.0.0.1:{port}"
    sim = simulator(port, start=40)
    found = companion("scan", "--seconds", "1.5", "--json", "--transport", transport)
    assert found.returncode == 0, found.stderr
    heard = {d["address"]: d for d in json_lines_plain(found.stdout)}
    assert "Polar accelerometer" in heard[STRAP]["profiles"]
    assert heard[FOOTPOD]["profiles"][0].startswith("footpod")
    for address, role in ((FOOTPOD, "footpod"), (STRAP, "pelvis")):
        done = companion("pair", address, "--role", role, "--transport", transport)
        assert done.returncode == 0 and "Paired Virtual" in done.stdout, done.stderr
    wrong = companion("pair", FOOTPOD, "--role", "chest", "--transport", transport)
    assert wrong.returncode != 0 and "cannot be the chest sensor" in wrong.stderr
    quitted = [stop(sim)]  # the sensors are switched off before the run starts

    wavs = tmp_path / "wavs"
    command = [COMPANION, "run", "--transport", transport, "--json", "--audio", "files"]
    run = subprocess.Popen(
        [*command, "--out", str(wavs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    events, both = Events(run), {"Virtual Footpod", "Virtual Strap"}
    try:
        events.until(said("No sensor answers yet. Are they on, and near?"))
        assert [e["state"] for e in events.seen if e["kind"] == "state"] == ["connecting"]
        sim = simulator(port, start=40)  # the runner switches them on
        events.until(lambda e: e["kind"] == "metrics" and e["running"])
        events.until(lambda e: links(events.seen, "connected") == both, timeout=30)
        quitted.append(stop(sim))  # the sensors vanish mid-run, long enough to be told
        for name in ("Footpod", "Hip sensor"):
            if not any(said(f"{name} lost. I'll keep trying.")(e) for e in events.seen):
                events.until(said(f"{name} lost. I'll keep trying."))
        sim = simulator(port, start=70)
        events.until(lambda e: links(events.seen, "back") == both)
        for name in ("Footpod", "Hip sensor"):
            if not any(said(f"{name} is back.")(e) for e in events.seen):
                events.until(said(f"{name} is back."))
        events.until(lambda e: e["kind"] == "metrics" and e["running"])
        run.send_signal(signal.SIGINT)  # the runner ends the run
        seen = events.rest()
        err = run.communicate(timeout=60)[1]
    finally:
        run.kill()
        quitted.append(stop(sim))
    assert run.returncode == 0, err
    for output in (err, *quitted):  # one line for each problem, plain text
        assert "Traceback" not in output and "\x1b[" not in output, output
    spoken = [e["text"] for e in seen if e["kind"] == "cue" and e["category"] == "system"]
    for name in ("Footpod", "Hip sensor"):
        for news in ("connected.", "lost. I'll keep trying.", "is back."):
            assert spoken.count(f"{name} {news}") == 1, spoken
    per_sensor = [(e["id"], e["link"]) for e in seen if e["kind"] == "sensor"]
    for name in both:
        assert [link for who, link in per_sensor if who == name] == ["connected", "lost", "back"]
    assert [e["t"] for e in seen] == sorted(e["t"] for e in seen)  # told in time order
    states = [e["state"] for e in seen if e["kind"] == "state"]
    assert states[:2] == ["connecting", "warmup"] and states[-1] == "finished"
    assert seen[-1]["kind"] == "summary"

    log = Path(next(e for e in seen if e["kind"] == "start")["notes"][-1].split(" in ")[-1])
    assert log.exists() and log.stat().st_mode & 0o777 == 0o600
    replay = replay_json(log, tmp_path / "replay-wavs")
    assert replay.returncode == 0, replay.stderr
    replayed = [(e["id"], e["link"]) for e in json_lines(replay.stdout) if e["kind"] == "sensor"]
    assert replayed == per_sensor
    with Store(paths.history_db()) as history:  # kept in the history too, lost and back
        kept = history.run()
        assert kept.kind == "live" and kept.state == "finished"
        assert history.raw_log(kept.id) == log.read_bytes()
        footpod = next(s for s in kept.sensors if s["name"] == "Virtual Footpod")
        assert [link for _, link in footpod["links"]] == ["connected", "lost", "back"]


def json_lines_plain(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]
