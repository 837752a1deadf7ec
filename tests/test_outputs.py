"""The files the runner names, by one rule (companion/outputs.py): never the product's own
data, never over what is not a regular file, an existing file replaced only when the
runner says so, the same rule for a missing folder everywhere, and every file 0600. Each
through the real `companion` command, on real files; the question on a pseudo-terminal."""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

import platformdirs
import pytest

from companion import paths
from companion.history.store import Store
from companion.paths import config_path
from cues.audio import output_device_problem
from cues.catalogue import load_catalogue
from sensors.recorded.rawlog import RawLogWriter
from tests.conftest import OUTDOOR, QUICK_VOICE
from tests.test_cli import COMPANION, companion

MISSING = "the folder {} does not exist; make it first, or choose another"


@pytest.fixture
def history(kept_history: Path) -> Path:
    """The three runs of tests/history_data.py as this test's run history."""
    return Path(shutil.copy(kept_history, paths.history_db()))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    (line,) = done.stderr.splitlines()
    return line


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def on_terminal(answer: str, *args: str) -> tuple[int, str]:
    """`companion ARGS` on a pseudo-terminal, its question answered with `answer`; its exit
    status and all it wrote there."""
    env = {**os.environ, "TERM": "dumb"}  # plain text
    master, slave = os.openpty()
    said = b""
    with subprocess.Popen(
        [COMPANION, *args], stdin=slave, stdout=slave, stderr=slave, env=env
    ) as p:
        os.close(slave)
        deadline = time.monotonic() + 120
        answered = False
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no question and no end: {said!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command ended: its terminal is closed
                break
            if not chunk:
                break
            said += chunk
            if not answered and b"[y/N] " in said:
                os.write(master, answer.encode() + b"\n")
                answered = True
        p.wait(timeout=60)
    os.close(master)
    return p.returncode, said.decode().replace("\r\n", "\n")


def words(text: str) -> str:
    """`text` with its lines joined (the terminal is 80 columns wide)."""
    return " ".join(text.split())


# The product's own data ------------------------------------------------------------------


def test_no_export_goes_over_the_products_own_data(history: Path, tmp_path: Path) -> None:
    """By name, by another spelling, through a symbolic or a hard link: the history (and its
    -wal and -shm, there or not yet), a raw log, the configuration and the speech cache."""
    data = history.parent
    raw = paths.new_raw_log()
    RawLogWriter.create(raw).close()
    config = config_path()
    config.parent.mkdir(parents=True)
    config.write_text("[speech]\nrate = 180\n")
    cache = platformdirs.user_cache_path(paths.APP) / "speech"
    (tmp_path / "link-to-history").symlink_to(history)
    (tmp_path / "history-copy.sqlite").hardlink_to(history)
    (tmp_path / "raw-copy.pcraw").hardlink_to(raw)
    (tmp_path / "settings.toml").hardlink_to(config)
    before = {p: digest(p) for p in (history, raw, config)}
    refused = {
        history: "the run history",
        data / "history.sqlite-wal": "the run history",
        data / "history.sqlite-shm": "the run history",
        data / ".." / data.name / "./history.sqlite": "the run history",
        tmp_path / "link-to-history": "the run history",
        tmp_path / "history-copy.sqlite": "the run history",
        tmp_path / "raw-copy.pcraw": "a run's raw sensor log",
        raw.with_suffix(".events.jsonl"): "a run's events",
        tmp_path / "settings.toml": "the configuration file",
        data / "export.csv": "in posture-companion's data folder",
        cache / "export.csv": "in the speech cache",
    }
    for target, what in refused.items():
        done = companion("export", "1", "--csv", str(target))
        assert done.returncode == 2, (target, done.stdout)
        assert one_line(done) == (
            f"companion: will not write {target}: that is posture-companion's own data "
            f"({what}); choose another place"
        )
    assert {p: digest(p) for p in before} == before
    assert not (data / "export.csv").exists() and not (cache / "export.csv").exists()
    for db in data.glob("history.sqlite*"):  # SQLite's own, never a CSV
        assert not db.read_bytes().startswith(b"t_s,"), db
    with Store(history) as kept:
        assert [r.id for r in kept.runs()] == [3, 2, 1]


def test_folder_outputs_stay_out_of_the_products_folders(tmp_path: Path) -> None:
    runs = paths.runs_dir()
    (tmp_path / "runs-link").symlink_to(runs)
    for folder in (runs, tmp_path / "runs-link", runs / "mine"):
        done = companion("cues", "say", "ribs-down", "--audio", "files", "--out", str(folder))
        assert done.returncode == 2
        assert "that is posture-companion's own data" in one_line(done)
    assert list(runs.iterdir()) == []


# What is not a regular file --------------------------------------------------------------


def test_a_pipe_a_link_and_a_folder_are_refused_for_what_they_are(
    history: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "run.fit"
    os.mkfifo(fifo)
    mine = tmp_path / "mine.csv"
    mine.write_text("the runner's own table\n")
    link = tmp_path / "run.csv"
    link.symlink_to(mine)
    folder = tmp_path / "run.json"
    folder.mkdir()
    cases = {
        ("--fit", fifo): "a named pipe",  # never opened: that would wait for a reader
        ("--csv", link): f"a symbolic link to {mine}",
        ("--json", folder): "a folder",
    }
    for (option, target), what in cases.items():
        for force in ([], ["--force"]) if target == fifo else ([],):
            done = companion("export", "1", option, str(target), *force, timeout=60)
            assert done.returncode == 2
            assert one_line(done) == (
                f"companion: will not write {target}: it is {what}, not a regular file"
            )
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink() and folder.is_dir()
    assert mine.read_text() == "the runner's own table\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("run")) == [
        "run.csv",
        "run.fit",
        "run.json",
    ]  # no file left half-written beside them


# An existing file ------------------------------------------------------------------------


def test_an_existing_file_is_replaced_only_with_force(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    out.write_text("last week's\n")
    out.chmod(0o644)
    done = companion("export", "1", "--csv", str(out), "--json", str(tmp_path / "run.json"))
    assert done.returncode == 1
    assert one_line(done) == f"companion: {out} exists already; --force replaces it"
    assert out.read_text() == "last week's\n"
    assert not (tmp_path / "run.json").exists()  # nothing written when one is refused
    done = companion("export", "1", "--csv", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("t_s,time,running") and mode(out) == 0o600


def test_the_question_on_a_terminal_is_answered_no_or_yes(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.png"
    out.write_text("an older figure")
    status, said = on_terminal("n", "report", "1", "--out", str(out))
    assert said.startswith(f"Replace {out}? [y/N] n\n")
    assert status == 1 and f"nothing written: {out} is kept as it was" in said
    assert out.read_text() == "an older figure"
    status, said = on_terminal("y", "report", "1", "--out", str(out))
    assert status == 0 and f"written to {out}" in words(said), said
    assert out.read_bytes().startswith(b"\x89PNG") and mode(out) == 0o600


def test_delete_asks_the_same_way_and_takes_no_answer_from_a_pipe(history: Path) -> None:
    piped = subprocess.run(
        [COMPANION, "delete", "2"], input="y\n", capture_output=True, text=True, timeout=60
    )
    assert piped.returncode == 1
    assert one_line(piped).endswith("; --yes deletes it without asking")
    status, said = on_terminal("n", "delete", "2")
    assert "This cannot be undone. [y/N] n\n" in said
    assert status == 1 and "kept: run 2" in said
    status, said = on_terminal("y", "delete", "2")
    assert status == 0 and "Deleted run 2" in words(said)
    with Store(history) as kept:
        assert [r.id for r in kept.runs()] == [3, 1]


# A missing folder, and the folder outputs ------------------------------------------------


COMMANDS = {
    "export": ("export", "1", "--csv", "{}/run.csv"),
    "report": ("report", "1", "--out", "{}/run.png"),
    "drills render": ("drills", "render", "posture-walk", "--out", "{}/walk.ogg"),
    "cues render": ("cues", "render", "--out", "{}/all"),
    "cues say": ("cues", "say", "ribs-down", "--audio", "files", "--out", "{}/said"),
    "summary": ("summary", "1", "--speak", "--audio", "files", "--out", "{}/said"),
    "demo": ("demo", "--json", "--speed", "0", "--audio", "files", "--out", "{}/wavs"),
    "replay": ("replay", str(OUTDOOR), "--speed", "0", "--audio", "files", "--out", "{}/wavs"),
    "run": ("run", "--minutes", "1", "--audio", "files", "--out", "{}/wavs"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_folder_is_refused_alike_by_every_command(
    command: str, history: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "not-made"
    args = [a.format(missing) for a in COMMANDS[command]]
    done = companion(*args)
    assert done.returncode == 2
    assert one_line(done) == f"companion: cannot write {args[-1]}: " + MISSING.format(missing)
    assert not missing.exists()
    assert not list(paths.runs_dir().iterdir())  # refused before anything: no raw log


def test_a_missing_out_folder_is_made_private_and_nothing_in_one_is_replaced(
    tmp_path: Path,
) -> None:
    out = tmp_path / "said"
    done = companion("cues", "say", "ribs-down", "--audio", "files", "--out", str(out))
    assert done.returncode == 0, done.stderr
    (first,) = out.iterdir()
    assert first.name == "001-00m00s-ribs-down-1.wav" and mode(out) == 0o700
    kept = digest(first)
    os.mkfifo(out / "002-00m00s-ribs-down-1.wav")  # whatever is there keeps its name
    done = companion("cues", "say", "ribs-down", "--all", "--audio", "files", "--out", str(out))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "001-00m00s-ribs-down-1.wav",
        "002-00m00s-ribs-down-1.wav",
        "003-00m00s-ribs-down-1.wav",
        "004-00m01s-ribs-down-2.wav",
        "005-00m02s-ribs-down-3.wav",
        "006-00m03s-ribs-down-4.wav",
    ]
    assert digest(first) == kept and stat.S_ISFIFO((out / names[1]).lstat().st_mode)
    assert all(mode(out / n) == 0o600 for n in names if n != names[1])


def test_cues_render_asks_once_for_the_files_it_would_replace(tmp_path: Path) -> None:
    out = tmp_path / "all"
    done = companion("cues", "render", "--out", str(out))
    assert done.returncode == 0, done.stderr
    files = sorted(out.iterdir())
    count = sum(len(c.say) + len(c.escalate) for c in load_catalogue())
    assert len(files) == count and mode(out) == 0o700
    assert all(mode(p) == 0o600 for p in files)
    files[0].write_bytes(b"the runner's edit")
    done = companion("cues", "render", "--out", str(out))
    assert done.returncode == 1
    assert one_line(done) == (
        f"companion: the {count} files of the same names in {out} exist already; "
        "--force replaces them"
    )
    assert files[0].read_bytes() == b"the runner's edit"
    done = companion("cues", "render", "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert files[0].read_bytes().startswith(b"RIFF") and sorted(out.iterdir()) == files


def test_a_rendered_drill_session_is_private_and_replaced_only_with_force(
    tmp_path: Path,
) -> None:
    out = tmp_path / "walk.ogg"
    done = companion("drills", "render", "posture-walk", "--out", str(out), *QUICK_VOICE)
    assert done.returncode == 0, done.stderr
    assert mode(out) == 0o600
    first = digest(out)
    done = companion("drills", "render", "posture-walk", "--out", str(out), *QUICK_VOICE)
    assert done.returncode == 1 and "--force replaces it" in one_line(done)
    assert digest(out) == first
    assert [p.name for p in tmp_path.iterdir() if "walk" in p.name] == ["walk.ogg"]


# Item 11: drills play with no sound to play on ------------------------------------------


def test_drills_play_without_sound_says_so_at_once_and_points_to_render() -> None:
    hint = "`companion drills render posture-walk --out FILE` writes it as one sound file"
    config = config_path()
    config.parent.mkdir(parents=True)
    config.write_text('[sound]\naudio = "files"\n')  # a server's configuration
    done = companion("drills", "play", "posture-walk", "--here", *QUICK_VOICE, timeout=60)
    assert done.returncode == 2
    assert one_line(done) == (
        "companion: Posture walk is led out loud and cannot be heard here: the configuration "
        f'says [sound] audio = "files"; {hint}'
    )
    config.unlink()
    problem = output_device_problem()
    if problem is not None:  # no device here either
        done = companion("drills", "play", "posture-walk", "--here", *QUICK_VOICE, timeout=60)
        assert done.returncode == 2 and one_line(done).endswith(f"{problem}; {hint}")
    assert not (platformdirs.user_data_path(paths.APP) / "audio").exists()
