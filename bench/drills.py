"""Drill sessions: how fast a whole session is turned into one sound file.

For each bundled session: its length (on its phrases as rendered), and the time to time it
and write it as OGG, first with an empty speech cache (every phrase rendered by espeak-ng)
and then with the cache full. The figure is session seconds per second of work.

Run: .venv/bin/python bench/drills.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from companion.coaching.spoken import clock
from companion.drills.player import timed, write_session
from cues.drills import bundled_sessions
from cues.speech import SpeechRenderer


def main() -> None:
    table = Table(title="Drill sessions written as OGG (session seconds per second of work)")
    for column in ("session", "length", "empty cache", "ratio", "full cache", "ratio"):
        table.add_column(column, justify="right" if column != "session" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for session in bundled_sessions():
            renderer = SpeechRenderer(folder / f"cache-{session.id}")
            times = []
            for _ in range(2):  # the first renders every phrase, the second finds them
                began = time.perf_counter()
                length = write_session(
                    timed(session, renderer), renderer, folder / f"{session.id}.ogg"
                )
                times.append(time.perf_counter() - began)
            renderer.close()
            cold, warm = times
            table.add_row(
                session.id,
                clock(length),
                f"{cold:.2f} s",
                f"{length / cold:.0f}×",
                f"{warm:.2f} s",
                f"{length / warm:.0f}×",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
