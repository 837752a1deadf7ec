"""Where the product keeps its files: platform directories, private to the runner."""

from __future__ import annotations

import time
from pathlib import Path

import platformdirs

APP = "posture-companion"


def config_path() -> Path:
    """The configuration file (companion.config reads it)."""
    return platformdirs.user_config_path(APP) / "config.toml"


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
    """A new folder for the WAV files of one run (not created, nor the folders above it,
    until something is written: a run heard on a device leaves nothing behind)."""
    return platformdirs.user_data_path(APP) / "audio" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


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
    """A new file for a live run's raw notifications (see sensors/recorded/rawlog.py)."""
    return new_run_name().with_suffix(".pcraw")


def history_db() -> Path:
    """The run history (companion/history/store.py)."""
    return private_dir(platformdirs.user_data_path(APP)) / "history.sqlite"


def schedule_db() -> Path:
    """The drill reminders' job store."""
    return private_dir(platformdirs.user_data_path(APP)) / "schedule.sqlite"


def paired_sensors() -> Path:
    """The runner's paired sensors (written by `companion pair`)."""
    return private_dir(platformdirs.user_data_path(APP)) / "paired-sensors.json"


def own_data() -> list[tuple[Path, str]]:
    """The product's own files and folders, each with what it holds in the runner's words,
    the most specific first; none is created here. No output the runner names may be
    written over any of them or into these folders (companion/outputs.py)."""
    data = platformdirs.user_data_path(APP)
    cache = platformdirs.user_cache_path(APP)
    out = [(config_path(), "the configuration file")]
    for db, what in (("history.sqlite", "the run history"), ("schedule.sqlite", "the reminders")):
        # SQLite's files beside the database are part of it: without them it loses data.
        out += [(data / f"{db}{suffix}", what) for suffix in ("", "-wal", "-shm", "-journal")]
    return [
        *out,
        (data / "paired-sensors.json", "the list of paired sensors"),
        (data / "runs", "the folder of the runs' raw sensor logs and events"),
        (data / "recording", "the folder of the runs being recorded"),
        (data / "audio", "the folder of past runs' cue audio"),
        (cache / "speech", "the speech cache"),
        (data, "posture-companion's data folder"),
        (cache, "posture-companion's cache folder"),
    ]


# What a file in the runs folder is, by its suffix.
RUN_FILES = {".pcraw": "a run's raw sensor log", ".events.jsonl": "a run's events"}
