"""The daemon: time from `companion daemon` to ready, and its memory idle and during a run.

Each pass starts `companion daemon` in its own private user folders and listens on a
notification socket as systemd would: "ready" is when it says READY=1 (its voice ready, its
socket answering, its schedules loaded). The first pass has an empty speech cache, so it
renders the whole cue catalogue first; the others find it cached. For scale, the same
figure for a bare Python start (`python -c pass`) is measured in the same run.

Memory is the daemon's resident set (VmRSS in /proc), sampled every 0.1 s: idle after
ready, then during an hour-long replayed run (the bundled 25-minute run laid end to end
to 60 minutes) coached at high speed with check-ins and splits on, through `companion
start --replay`, until `companion stop` after the last sample.

Run: .venv/bin/python bench/daemon.py [replay speed, default 200]
"""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).parents[1]
COMPANION = str(Path(sys.executable).parent / "companion")
HIP_RUN = ROOT / "companion" / "run" / "data" / "outdoor_run_hip_100hz.csv.xz"  # the demo's


def private_env(home: Path, notify: Path, cache: Path) -> dict[str, str]:
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    config = home / "config" / "posture-companion"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        '[sound]\naudio = "files"\n[schedule]\ncheckin_min = 5\nsplit_min = 10\n'
        f"[speech]\nworker_idle_s = {WORKER_IDLE_S}\n"
    )
    return dict(
        os.environ,
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CACHE_HOME=str(cache),
        NOTIFY_SOCKET=str(notify),
    )


WORKER_IDLE_S = 10  # the speech worker leaves after this long idle (the default is 60)


def worker_mib(pid: int) -> float:
    """The resident memory of the daemon's children: its speech worker, while it runs.
    Each thread has its own list of children, and a render thread starts the worker."""
    total = 0.0
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, RuntimeError):  # gone while it was read
            total += sum(rss_mib(int(child)) for child in children.read_text().split())
    return total


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def start_daemon(home: Path, cache: Path) -> tuple[subprocess.Popen[bytes], float, dict[str, str]]:
    """A daemon in `home`; and the seconds it took to say READY=1."""
    notify_path = home / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    env = private_env(home, notify_path, cache)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [COMPANION, "daemon"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    notify.settimeout(120)
    while b"READY=1" not in notify.recv(4096):
        pass
    ready = time.perf_counter() - began
    notify.close()  # nothing reads what it says from now on: it must not care
    return proc, ready, env


def ask(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [COMPANION, *args, "--json"], env=env, capture_output=True, text=True, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def hour_long_run(folder: Path) -> Path:
    """The bundled run laid end to end (times carried on) to make 60 minutes."""
    with lzma.open(HIP_RUN, "rt") as fh:
        header = fh.readline()
        rows = [line.split(",", 1) for line in fh]
    span = float(rows[-1][0]) + 0.01
    path = folder / "hour.csv"
    with path.open("w") as out:
        out.write(header)
        copy = 0
        while copy * span < 3600:
            for t, rest in rows:
                t_s = float(t) + copy * span
                if t_s >= 3600:
                    break
                out.write(f"{t_s:.3f},{rest}")
            copy += 1
    return path


def main() -> None:
    speed = float(sys.argv[1]) if len(sys.argv) > 1 else 200.0
    console = Console()
    bare = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - began)
    python_s = statistics.median(bare)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cache = root / "cache"
        readies = []
        for i in range(6):
            home = root / f"home{i}"
            home.mkdir()
            proc, ready, env = start_daemon(home, cache)
            readies.append(ready)
            if i < 5:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        cold, warm = readies[0], statistics.median(readies[1:5])

        # `proc` is the last daemon, left running for the memory figures; with the catalogue
        # cached it never needed its speech worker.
        time.sleep(2.0)
        idle = [rss_mib(proc.pid)]
        for _ in range(20):
            time.sleep(0.1)
            idle.append(rss_mib(proc.pid))
        idle_mib = statistics.median(idle)
        idle_worker = worker_mib(proc.pid)

        run = hour_long_run(root)
        ask(env, "start", "--replay", str(run), "--speed", str(speed))
        began = time.perf_counter()
        during: list[tuple[float, float]] = []
        workers: list[float] = []
        while True:
            status = ask(env, "status")
            during.append((float(status.get("run_s", 0.0)), rss_mib(proc.pid)))  # type: ignore[arg-type]
            workers.append(worker_mib(proc.pid))
            if status["state"] not in ("connecting", "warmup", "running", "paused"):
                break
            time.sleep(0.1)
        wall = time.perf_counter() - began
        peak = max(m for _, m in during)
        early = [m for t, m in during if 600 <= t < 900]
        late = [m for t, m in during if t >= 3300]
        # The run's state has ended; its summary is still being said and kept.
        status = ask(env, "status")
        while "last_run" not in status:
            time.sleep(0.1)
            status = ask(env, "status")
        last_run = status["last_run"]
        events = Path(str(last_run["events_file"]))  # type: ignore[index]
        said = [
            e["id"] for e in map(json.loads, events.read_text().splitlines()) if e["kind"] == "cue"
        ]
        # The worker spoke the summary; once idle it leaves, and the daemon is as it was.
        gone_by = time.perf_counter() + WORKER_IDLE_S + 30
        while worker_mib(proc.pid) > 0 and time.perf_counter() < gone_by:
            time.sleep(0.2)
        after_worker = worker_mib(proc.pid)
        after = statistics.median([rss_mib(proc.pid) for _ in range(5)])
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    table = Table(title="companion daemon", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("ratio", justify="right")
    table.add_row("bare Python start (`python -c pass`)", f"{python_s * 1000:.0f} ms", "1.0×")
    table.add_row(
        "start to ready, speech cache empty", f"{cold * 1000:.0f} ms", f"{cold / python_s:.1f}×"
    )
    table.add_row(
        "start to ready, speech cached (median of 4)",
        f"{warm * 1000:.0f} ms",
        f"{warm / python_s:.1f}×",
    )
    table.add_row("resident memory, idle", f"{idle_mib:.0f} MiB", "1.00×")
    table.add_row(
        "resident memory, peak during the hour", f"{peak:.0f} MiB", f"{peak / idle_mib:.2f}×"
    )
    if early and late:
        e, lt = statistics.median(early), statistics.median(late)
        table.add_row(
            "resident memory, minute 55-60 over minute 10-15",
            f"{lt:.0f} / {e:.0f} MiB",
            f"{lt / e:.2f}×",
        )
    table.add_row("speech worker while idle (not started)", f"{idle_worker:.0f} MiB", "")
    table.add_row(
        "speech worker, peak during the hour",
        f"{max(workers):.0f} MiB",
        f"{sum(w > 0 for w in workers) / len(workers):.0%} of samples alive",
    )
    table.add_row(
        "daemon + worker, peak during the hour",
        f"{max(m for _, m in during) + max(workers):.0f} MiB (at most)",
        "",
    )
    table.add_row(
        f"after the run, the worker gone ({after_worker:.0f} MiB)",
        f"{after:.0f} MiB",
        f"{after / idle_mib:.2f}× idle",
    )
    table.add_row(
        f"the hour replayed at {speed:g}× (wall time)", f"{wall:.1f} s", f"{3600 / wall:.0f}×"
    )
    table.add_row(
        "check-ins and splits said in the hour",
        f"{said.count('checkin')} + {said.count('split-time')}",
        "",
    )
    console.print(table)


if __name__ == "__main__":
    main()
