"""`companion analyze`: a recorded run, minute by minute, with its baseline and drifts.

The same engine as a coached run decides (analysis, baseline, drift, and the cues the coach
would have said), fed as fast as the machine goes; this module only gathers the windows
into minutes and shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from rich.console import Console

from companion.cli.tables import Column, fitted, in_parts
from companion.coaching.engine import EngineSettings, RunEngine
from companion.coaching.events import CueSpoken
from companion.form.drift import Baseline
from companion.form.metrics import METRICS
from companion.form.record import Second
from companion.form.rules import DriftRule
from cues.catalogue import Catalogue
from cues.words import counted
from sensors.samples import Sample


@dataclass
class Minute:
    index: int
    running_s: float = 0.0
    values: dict[str, list[float]] = field(default_factory=dict)

    def medians(self) -> dict[str, float]:
        return {k: float(np.median(v)) for k, v in self.values.items()}


class MinuteTable:
    """Running windows gathered by the minute they end in."""

    def __init__(self, hop_s: float):
        self.hop_s = hop_s
        self.minutes: dict[int, Minute] = {}

    def add(self, w: Second) -> None:
        index = int((w.t - 1e-9) // 60)
        minute = self.minutes.setdefault(index, Minute(index))
        if not w.running:
            return
        minute.running_s += self.hop_s
        for name, value in w.values.items():
            minute.values.setdefault(name, []).append(value)


@dataclass(frozen=True)
class Analysis:
    name: str
    duration_s: float
    running_s: float
    minutes: tuple[Minute, ...]
    baseline: Baseline | None
    episodes: tuple[dict[str, Any], ...]
    cues: tuple[CueSpoken, ...]
    notes: tuple[str, ...] = ()

    @property
    def metrics(self) -> list[str]:
        """Every `source.metric` seen, in the order of the metric table."""
        seen = {k for m in self.minutes for k in m.values}
        order = list(METRICS)
        return sorted(seen, key=lambda k: (order.index(k.split(".", 1)[1]), k))

    def to_dict(self) -> dict[str, Any]:
        def rounded(values: dict[str, float]) -> dict[str, float]:
            return {k: round(v, 4) for k, v in values.items()}

        return {
            "recording": self.name,
            "duration_s": round(self.duration_s, 2),
            "running_s": round(self.running_s, 2),
            "notes": list(self.notes),
            "baseline": None
            if self.baseline is None
            else {
                "values": rounded(self.baseline.values),
                "spread": rounded(self.baseline.spread),
                "speed_mps": self.baseline.speed_mps,
            },
            "minutes": [
                {"minute": m.index, "running_s": m.running_s, "values": rounded(m.medians())}
                for m in self.minutes
            ],
            "episodes": list(self.episodes),
            "cues": [c.to_dict() for c in self.cues],
        }


def analyze(
    name: str,
    samples: Iterable[Sample],
    catalogue: Catalogue,
    rules: tuple[DriftRule, ...],
    settings: EngineSettings | None = None,
    notes: tuple[str, ...] = (),
) -> Analysis:
    """Run every sample through the engine and gather what it found."""
    engine = RunEngine(catalogue, rules, settings)
    table = MinuteTable(engine.settings.analysis.hop_s)
    engine.on_second = table.add
    engine.start()
    for sample in samples:
        engine.feed(sample)
    _, stats = engine.finish()
    return Analysis(
        name=name,
        duration_s=stats.duration_s,
        running_s=stats.running_s,
        minutes=tuple(table.minutes[k] for k in sorted(table.minutes)),
        baseline=engine.baseline,
        episodes=tuple(ep.to_dict() for ep in stats.episodes),
        cues=tuple(engine.cues),
        notes=notes,
    )


def _heading(name: str) -> str:
    source, metric = name.split(".", 1)
    info = METRICS[metric]
    unit = "spm" if info.unit == "steps/min" else info.unit
    return f"{source}\n{info.heading}\n{unit}"


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.{METRICS[name.split('.', 1)[1]].digits}f}"


def _clock(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{int(t // 60)}:{int(t % 60):02d}"


def print_table(result: Analysis, console: Console) -> None:
    if result.running_s == 0:
        console.print(
            f"{result.name}: no running found in {result.duration_s:.0f} s (a window needs "
            "10 s of running: steady steps at 130 a minute or more)."
        )
        for note in result.notes:
            console.print(f"[dim]{note}")
        return
    names = result.metrics
    rows = []
    for m in result.minutes:
        values = m.medians()
        rows.append([str(m.index), f"{m.running_s:.0f}", *(_cell(n, values.get(n)) for n in names)])
    footer = []
    if result.baseline is not None:
        base = result.baseline.values
        footer.append(["base", "", *(_cell(n, base.get(n)) for n in names)])
    # As many metrics to a table as the terminal's width takes, the minute in each.
    for table in in_parts(
        console,
        (Column("min", right=True), Column("run\ns", right=True)),
        [Column(_heading(name), right=True) for name in names],
        rows,
        footer,
        title=f"{result.name}: the run minute by minute (medians of each second)",
    ):
        console.print(table)
    for note in result.notes:
        console.print(f"[dim]{note}")
    if result.baseline is None:
        console.print("No baseline: the run was too short to learn one.")

    cells = []
    for ep in result.episodes:
        unit = "%" if ep["unit"] == "fraction" else ep["unit"]
        scale = 100 if ep["unit"] == "fraction" else 1
        sign = "+" if ep["direction"] == "above" else "−"
        cells.append(
            (
                str(ep["episode"]),
                ep["fault"],
                f"{ep['source']} {METRICS[ep['metric']].label}",
                f"{ep['baseline']}",
                _clock(ep["start"]),
                f"{sign}{scale * ep['peak_excess']:.1f} {unit}",
                _clock(ep["end"]),
            )
        )
    columns = (
        Column("#", right=True),
        Column("fault"),
        Column("metric", whole=False, keep=3),
        Column("baseline", right=True, keep=1),
        Column("start", right=True),
        Column("peak", right=True, keep=2),
        Column("end", right=True),
    )
    if result.episodes:
        console.print(fitted(console, columns, cells, title="Drift episodes"))
    else:
        console.print("No drift episodes.")
    console.print(
        f"{result.running_s / 60:.1f} of {result.duration_s / 60:.1f} minutes running; "
        f"{counted(len(result.cues), 'cue')} the coach would have said."
    )


def write_json(result: Analysis, out: IO[str]) -> None:
    json.dump(result.to_dict(), out, ensure_ascii=False)
    out.write("\n")
