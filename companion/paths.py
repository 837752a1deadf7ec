"""Where the product keeps its files: platform directories, private to the runner."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import platformdirs

APP = "posture-companion"


def private_dir(root: Path, *parts: str) -> Path:
    """`root`/`parts`, created readable by this user only, `root` included."""
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in (root, *(root.joinpath(*parts[: i + 1]) for i in range(len(parts)))):
        p.chmod(0o700)
    return path


def speech_cache() -> Path:
    return private_dir(platformdirs.user_cache_path(APP), "speech")


def audio_out(name: str) -> Path:
    """A new folder for the WAV files of one run (not created until something is written)."""
    base = private_dir(platformdirs.user_data_path(APP), "audio")
    return base / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def runs_dir() -> Path:
    """Each run's files: its raw log (live runs) and its events."""
    return private_dir(platformdirs.user_data_path(APP), "runs")


def new_run_name() -> Path:
    """A run's files without their suffixes: runs/run-<date>-<time>, never one in use."""
    runs = runs_dir()
    stem = f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    base, n = runs / stem, 1
    while any(runs.glob(f"{base.name}.*")):
        n += 1
        base = runs / f"{stem}-{n}"
    return base


def new_raw_log() -> Path:
    """A new file for a live run's raw notifications (see sensors/rawlog.py)."""
    return new_run_name().with_suffix(".pcraw")


def history_db() -> Path:
    """The run history (companion/store.py)."""
    return private_dir(platformdirs.user_data_path(APP)) / "history.sqlite"


def schedule_db() -> Path:
    """The drill reminders' job store."""
    return private_dir(platformdirs.user_data_path(APP)) / "schedule.sqlite"


def paired_sensors() -> Path:
    """The runner's paired sensors (written by `companion pair`)."""
    return private_dir(platformdirs.user_data_path(APP)) / "paired-sensors.json"


def write_private(path: Path, data: bytes) -> None:
    """`data` as the file `path`, readable by this user only (it holds the runner's runs).
    Written beside it (mkstemp makes it 0600) and renamed over it: a failed export leaves
    no half-written file, and a file that was there before does not keep its mode."""
    fd, part = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        Path(part).replace(path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
