"""`companion simulate` in one process and `companion scan`, `pair` and `run` in another,
as a runner would use them: connect, stream, survive the simulator being stopped and
started again, and keep a raw log that replays to the same sensor events."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from companion import paths
from companion.store import Store
from tests.test_cli import COMPANION, companion, json_lines, replay_json

FOOTPOD, STRAP = "F0:5C:00:00:00:01", "F0:5C:00:00:00:02"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulator(port: int, start: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [COMPANION, "simulate", "--port", str(port), "--start", str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until it says how to connect
        if "companion run --transport" in line:
            return proc
    raise AssertionError(f"the simulator did not start (exit {proc.wait()})")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)


def test_scan_pair_run_and_survive_a_restarted_simulator(tmp_path: Path) -> None:
    port = free_port()
    transport = f"bumble:tcp-client:127.0.0.1:{port}"
    sim = simulator(port, start=40)
    try:
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

        run = subprocess.Popen(
            [
                COMPANION,
                "run",
                "--transport",
                transport,
                "--minutes",
                "0.6",
                "--json",
                "--audio",
                "files",
                "--out",
                str(tmp_path / "wavs"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(10)
        stop(sim)  # the sensors vanish with it
        time.sleep(4)
        sim = simulator(port, start=70)
        out, err = run.communicate(timeout=90)
    finally:
        stop(sim)
    assert run.returncode == 0, err
    events = json_lines(out)
    links = [(e["id"], e["link"]) for e in events if e["kind"] == "sensor"]
    for name in ("Virtual Footpod", "Virtual Strap"):
        assert [link for who, link in links if who == name] == ["connected", "lost", "back"]
    said = [e["text"] for e in events if e["kind"] == "cue" and e["category"] == "system"]
    assert (
        "Footpod lost. I'll keep trying." in said and "Hip sensor lost. I'll keep trying." in said
    )
    back = max(e["t"] for e in events if e["kind"] == "sensor" and e["link"] == "back")
    moving = [e for e in events if e["kind"] == "metrics" and e["t"] > back and e["running"]]
    assert moving, "no running metrics after the sensors came back"
    assert events[-1]["kind"] == "summary"

    log = Path(next(e for e in events if e["kind"] == "start")["notes"][-1].split(" in ")[-1])
    assert log.exists() and log.stat().st_mode & 0o777 == 0o600
    replay = replay_json(log, tmp_path / "replay-wavs")
    assert replay.returncode == 0, replay.stderr
    replayed = [(e["id"], e["link"]) for e in json_lines(replay.stdout) if e["kind"] == "sensor"]
    assert replayed == links
    with Store(paths.history_db()) as history:  # kept in the history too, lost and back
        kept = history.run()
        assert kept.kind == "live" and kept.state == "finished"
        assert history.raw_log(kept.id) == log.read_bytes()
        footpod = next(s for s in kept.sensors if s["name"] == "Virtual Footpod")
        assert [link for _, link in footpod["links"]] == ["connected", "lost", "back"]


def json_lines_plain(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]
