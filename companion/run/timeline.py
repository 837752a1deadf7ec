"""Frontends that show a run: a live timeline in the terminal, or JSON lines for machines."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from companion.coaching.events import (
    BaselineLearned,
    Calibrated,
    CueSpoken,
    DriftEnded,
    DriftStarted,
    Event,
    FaultCleared,
    FaultInjected,
    Metrics,
    MetronomeTicks,
    RunStarted,
    SensorMoved,
    StateChanged,
    Summary,
    TerrainChanged,
)
from companion.coaching.spoken import clock
from companion.form.metrics import METRICS
from cues.words import counted

log = logging.getLogger(__name__)


def _signed(x: float | None, unit: str = "°") -> str:
    return "—" if x is None else f"{x:+.1f}{unit}"


def _axis(v: list[float]) -> str:
    """The sensor axis a unit vector is closest to, such as '+x (14° off)'."""
    i = max(range(3), key=lambda k: abs(v[k]))
    off = math.degrees(math.acos(min(1.0, abs(v[i]))))
    return f"{'+' if v[i] > 0 else '-'}{'xyz'[i]} ({off:.0f}° off)"


class JsonLines:
    """One JSON object per event on `stream` (stdout), flushed at once."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def show(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
        self.stream.flush()

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class EventFile(JsonLines):
    """A run's events kept as JSON lines in a file of its own, readable by the runner only.

    Each line is flushed as it comes, so a killed process keeps all but the last moment.
    A full disk costs the file, never the run.
    """

    def __init__(self, path: Path):
        self.path = path
        self.broken: str | None = None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        super().__init__(os.fdopen(fd, "w", encoding="utf-8"))

    def show(self, event: Event) -> None:
        if self.broken is not None:
            return
        try:
            super().show(event)
        except OSError as err:
            self.broken = str(err)
            log.error("cannot write %s any more (%s); the run goes on", self.path, err)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


class Timeline:
    """The run as it happens: a status line that updates and a log of what mattered.

    On a terminal the status line is live; elsewhere (CI, a pipe) only the log is printed,
    with one row a minute so the run can still be followed.
    """

    def __init__(self, console: Console):
        self.console = console
        self.state = "warmup"
        self.metrics: Metrics | None = None
        self.baseline: dict[str, float] = {}
        self.open_drifts: dict[int, str] = {}
        self.last_cue = ""
        self._minute = -1
        self._live: Live | None = None

    def __enter__(self) -> Timeline:
        if self.console.is_terminal:
            self._live = Live(
                self._status(), console=self.console, refresh_per_second=8, transient=True
            )
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _line(self, t: float, style: str, text: str | Text) -> None:
        line = Text(f"{clock(t)}  ", style="dim")
        line.append(text if isinstance(text, Text) else Text(text, style=style))
        self.console.print(line)

    def show(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        if self._live is not None:
            self._live.update(self._status())

    def _on_start(self, e: RunStarted) -> None:
        self.console.rule(f"[bold]{e.source}")
        self.console.print(
            f"Sensor [bold]{e.sensor}[/] worn at the {e.placement}. "
            "Lean is the forward tilt of that sensor, relative to the first "
            "steady running."
        )
        for note in e.notes:
            self.console.print(f"[yellow]{note}")

    def _on_state(self, e: StateChanged) -> None:
        self.state = e.state
        words = {
            "warmup": ("cyan", "warm-up: learning your form"),
            "running": ("green", "running"),
            "paused": ("dim", "paused: the runner stopped or is walking"),
            "finished": ("bold", "finished"),
        }
        style, text = words.get(e.state, ("", e.state))
        self._line(e.t, style, text)

    def _on_calibrated(self, e: Calibrated) -> None:
        self._line(
            e.t, "cyan", f"sensor axes found: up is {_axis(e.up)}, forward is {_axis(e.forward)}"
        )

    def _on_sensor_moved(self, e: SensorMoved) -> None:
        self._line(e.t, "yellow", f"the {e.source} sensor moved ({e.why}): learning it again")

    def _on_terrain(self, e: TerrainChanged) -> None:
        words = {"uphill": "uphill: form rules hold", "downhill": "downhill: form rules hold"}
        self._line(e.t, "dim", words.get(e.terrain, "level again"))

    def _on_baseline(self, e: BaselineLearned) -> None:
        self.baseline = e.values
        cadence = _lead(e.values, "cadence_spm")
        lean = _lead(e.values, "lean_deg")
        own = f"; your own pace slopes for {counted(len(e.slopes), 'metric')}" if e.slopes else ""
        self._line(
            e.t,
            "bold cyan",
            (
                f"baseline learned: cadence {cadence:.0f} spm, lean {_signed(lean)}"
                if cadence is not None
                else "baseline learned"
            )
            + own,
        )

    def _on_metrics(self, e: Metrics) -> None:
        self.metrics = e
        minute = int(e.t // 60)
        if minute != self._minute:
            self._minute = minute
            row = (
                f"{'running' if e.running else 'stopped':8} "
                f"{e.cadence_spm or 0:5.0f} spm   lean {_signed(e.lean_deg):>6}"
                if e.running
                else "stopped"
            )
            self._line(e.t, "dim", row)

    def _on_drift_start(self, e: DriftStarted) -> None:
        self.open_drifts[e.episode["episode"]] = e.text
        ep = e.episode
        info = METRICS[ep["metric"]]
        unit = "spm" if info.unit == "steps/min" else info.unit
        gap = "" if unit == "°" else " "
        value, base = (f"{ep[k]:.{info.digits}f}{gap}{unit}" for k in ("value", "baseline"))
        seen = f"{ep['source']} {info.heading} {value}, baseline {base}"
        self._line(e.t, "bold red", f"drift: {e.text} ({seen})")

    def _on_drift_end(self, e: DriftEnded) -> None:
        self.open_drifts.pop(e.episode["episode"], None)
        ep = e.episode
        lasted = clock((ep["end"] or e.t) - ep["start"])
        self._line(e.t, "green", f"drift over: {e.text}, lasted {lasted}")

    def _on_cue(self, e: CueSpoken) -> None:
        self.last_cue = e.text
        style = {"form": "bold magenta", "confirmation": "bold green"}.get(e.category, "magenta")
        self._line(e.t, style, f"🔊 “{e.text}”")

    def _on_metronome(self, e: MetronomeTicks) -> None:
        self._line(e.t, "magenta", f"🥁 {counted(e.beats, 'tick')} at {e.spm:.0f} steps/min")

    def _on_fault_injected(self, e: FaultInjected) -> None:
        self._line(e.t, "bold yellow", f"⚠ DEMO FAULT STARTS. {e.text}")

    def _on_fault_cleared(self, e: FaultCleared) -> None:
        self._line(e.t, "yellow", f"⚠ {e.text}")

    def _on_summary(self, e: Summary) -> None:
        s: dict[str, Any] = e.stats
        table = Table(title="Run summary", show_header=False, box=None)
        table.add_row("duration", clock(s["duration_s"]))
        table.add_row("running", clock(s["running_s"]))
        if s["cadence_spm"] is not None:
            table.add_row("cadence", f"{s['cadence_spm']:.0f} steps/min")
        if s["form_held"] is not None:
            table.add_row("form held", f"{100 * s['form_held']:.0f} % of running after warm-up")
        for ep in s["drift_episodes"]:
            table.add_row(
                "drift", f"{clock(ep['start'])}–{clock(ep['end'] or ep['start'])} {ep['fault']}"
            )
        table.add_row("cues", f"{s['cues']} ({s['form_cues']} about form)")
        self.console.print(table)

    def _status(self) -> Group:
        m = self.metrics
        base_c = _lead(self.baseline, "cadence_spm")
        base_l = _lead(self.baseline, "lean_deg")
        cadence = "—" if m is None or m.cadence_spm is None else f"{m.cadence_spm:.0f} spm"
        if base_c is not None:
            cadence += f" (base {base_c:.0f})"
        lean = _signed(None if m is None else m.lean_deg)
        if base_l is not None:
            lean += f" (base {_signed(base_l)})"
        drift = ", ".join(self.open_drifts.values()) or "none"
        status = Text.assemble(
            (f"⏱ {clock(m.t if m else 0)}  ", "bold"),
            (f"{self.state:8}", "green" if self.state == "running" else "cyan"),
            f"  cadence {cadence}   lean {lean}   ",
            (f"drift: {drift}", "bold red" if self.open_drifts else "dim"),
        )
        last = Text(f"last cue: “{self.last_cue}”" if self.last_cue else "", style="magenta")
        return Group(Rule(style="dim"), status, last)


def _lead(values: dict[str, float], metric: str) -> float | None:
    """A metric from the sensor the run follows: the pelvis, else the chest, else the pod."""
    for source in ("pelvis", "chest", "footpod"):
        if f"{source}.{metric}" in values:
            return values[f"{source}.{metric}"]
    return None
