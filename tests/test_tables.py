"""Tables at 80 columns, through a pipe: nothing a runner types or reads is cut."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from companion.cli.tables import Column, fitted
from companion.history.store import Store
from cues.catalogue import load_catalogue
from cues.drills import bundled_sessions
from tests.conftest import OUTDOOR
from tests.history_data import copy_to
from tests.test_cli import companion

SESSIONS = [s.id for s in bundled_sessions()]


def shown(*args: str, columns: int = 80) -> list[str]:
    done = companion(*args, env=dict(os.environ, COLUMNS=str(columns)))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(cell_len(line) <= columns for line in lines), done.stdout
    assert "…" not in done.stdout, done.stdout
    return lines


def whole(lines: list[str], *texts: str) -> None:
    """Each text on one line, between the table's lines (not folded or cut)."""
    for text in texts:
        pattern = rf"(^|[\s│┃]){re.escape(text)}($|[\s│┃])"
        assert any(re.search(pattern, line) for line in lines), (text, "\n".join(lines))


def test_the_drill_sessions_and_their_steps() -> None:
    whole(shown("drills", "list"), *SESSIONS)
    session = next(s for s in bundled_sessions() if s.id == "hip-mobility-strength")
    lines = shown("drills", "show", session.id)
    whole(lines, *(str(i) for i in range(1, len(session.steps) + 1)))


def test_the_cue_catalogue() -> None:
    lines = shown("cues", "list")
    whole(lines, *(cue.id for cue in load_catalogue()))
    whole(lines, "anterior_tilt", "shoulder_tension")


def test_the_runs_kept(kept_history: Path, tmp_path: Path) -> None:
    copy_to(kept_history, tmp_path / "data")
    with Store(kept_history) as history:
        runs = history.runs()
    for width in (80, 60):
        lines = shown("history", columns=width)
        whole(lines, *(f"{r.started:%Y-%m-%d %H:%M}" for r in runs), *(str(r.id) for r in runs))
    assert "not shown" in "\n".join(lines)  # at 60, said rather than squeezed


def test_the_paired_sensors() -> None:
    addresses = ["F0:5C:00:00:00:01", "F0:5C:00:00:00:02", "F0:5C:00:00:00:03"]
    for address, role in zip(addresses, ("footpod", "pelvis", "hr"), strict=True):
        name = "A very long sensor name that a runner gave it " * 2
        done = companion("pair", address, "--role", role, "--no-check", "--name", name)
        assert done.returncode == 0, done.stderr
    whole(shown("sensors"), *addresses)


def test_an_analysis_in_as_many_tables_as_it_takes() -> None:
    lines = shown("analyze", str(OUTDOOR))
    assert sum("base" in line for line in lines) >= 2  # its metrics over several tables
    whole(lines, *(str(minute) for minute in range(25)))


@pytest.mark.parametrize("width", range(36, 140, 9))
def test_at_any_width_the_ids_stay_whole_or_the_table_says_what_it_left_out(width: int) -> None:
    columns = (
        Column("name"),
        Column("title", whole=False, keep=2),
        Column("about", whole=False, keep=1),
        Column("length", keep=3),
    )
    rows = [(s.id, s.title, s.info.about, "~04:59") for s in bundled_sessions()]
    out = io.StringIO()
    console = Console(file=out, width=width)
    console.print(fitted(console, columns, rows))
    lines = out.getvalue().splitlines()
    assert "…" not in out.getvalue() and all(cell_len(line) <= width for line in lines)
    whole(lines, *SESSIONS)
    for header in ("title", "about", "length"):
        assert any(header in line for line in lines), (header, out.getvalue())
