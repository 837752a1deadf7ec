"""The run report's figure: a header, each watched metric over the run, the cues said, and
the trends across runs, drawn with matplotlib's Agg backend into PNG bytes.

The PNG's metadata lists the panels (Description) and where each one is (Panels, JSON
pixel boxes), so a reader or a test can tell what the figure holds without looking."""

from __future__ import annotations

import io
import json
import textwrap
from collections import Counter
from typing import TYPE_CHECKING, Any

from companion.coaching.spoken import duration_clock as clock
from companion.history.report.colours import (
    BASE,
    DRIFT,
    DRIFT_TEXT,
    FORM_CUE,
    INK,
    LEARNING,
    OTHER_CUE,
    STOPPED,
    VALUE,
)
from companion.history.report.page import CueRow, MetricPanel, Report, facts, run_title

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from companion.history.report.page import Floats

WIDTH_IN = 12.0
PANEL_IN = 1.9
TRENDS_IN = 3.3


def _header(sub: SubFigure, report: Report, lines: list[str]) -> None:
    run, height = report.run, _header_in(lines)

    def at(inches: float) -> float:  # down from the top, whatever the header's height
        return 1 - inches / height

    sub.text(0.01, at(0.2), run_title(run), fontsize=18, va="top", color=INK)
    sub.text(0.99, at(0.2), run.name, fontsize=9, va="top", ha="right", color=OTHER_CUE)
    sub.text(
        0.01, at(0.62), "  ·  ".join(facts(run)), fontsize=12, va="top", weight="bold", color=INK
    )
    sub.text(0.01, at(0.98), "\n".join(lines), fontsize=10.5, va="top", color=INK, linespacing=1.45)


def _header_in(lines: list[str]) -> float:
    return 1.15 + 0.23 * len(lines)


def _spans(report: Report) -> list[tuple[float, float]]:
    """The stretches where the runner stopped, in minutes."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    prev = 0.0
    for s in report.seconds:
        if not s.running and start is None:
            start = prev
        elif s.running and start is not None:
            out.append((start / 60, prev / 60))
            start = None
        prev = s.t
    if start is not None:
        out.append((start / 60, prev / 60))
    return out


def _cue_marks(ax: Axes, cues: tuple[CueRow, ...], numbered: bool) -> None:
    top = ax.get_xaxis_transform()  # x in minutes, y in the axes' height
    for c in cues:
        x = c.t / 60
        if c.number is None:
            ax.plot([x], [0.0], marker="^", ms=6, color=OTHER_CUE, transform=top, clip_on=False)
            continue
        ax.axvline(x, color=FORM_CUE, lw=0.9, alpha=0.55, zorder=1)
        ax.plot([x], [1.0], marker="v", ms=8, color=FORM_CUE, transform=top, clip_on=False)
        if numbered:
            ax.annotate(
                str(c.number),
                (x, 1.0),
                xycoords=top,
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8.5,
                color=FORM_CUE,
                weight="bold",
            )


def _limits(panel: MetricPanel) -> tuple[float, float]:
    import numpy as np

    parts = [panel.values] + [a for a in (panel.low, panel.high) if a is not None]
    seen = np.concatenate(parts)
    seen = seen[np.isfinite(seen)]
    if not seen.size:
        return 0.0, 1.0
    # A few wild windows (a stumble, a kerb) would squash the rest of the run flat.
    lo, hi = (float(v) for v in np.percentile(seen, [0.3, 99.7]))
    pad = 0.12 * (hi - lo) or 1.0
    return lo - pad, hi + 2.8 * pad  # room at the top for the drift labels


def smoothed(values: Floats, window: int = 15) -> Floats:
    """A centred moving average that skips the gaps (stops) instead of bridging them."""
    import numpy as np

    known = np.isfinite(values)
    kernel = np.ones(window)
    total = np.convolve(np.where(known, values, 0.0), kernel, mode="same")
    count = np.convolve(known.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known, total / count, np.nan)


def _learning(report: Report) -> tuple[float, float] | None:
    """From the first running second to the first judged one: the baseline being learned."""
    start = next((s.t for s in report.seconds if s.running), None)
    judged = next((s.t for s in report.seconds if s.judged), None)
    return None if start is None or judged is None else (start / 60, judged / 60)


def _metric(
    ax: Axes, panel: MetricPanel, report: Report, stopped: list[tuple[float, float]], first: bool
) -> None:
    for a, b in stopped:
        ax.axvspan(a, b, color=STOPPED, alpha=0.45, lw=0, zorder=0)
    learning = _learning(report)
    if learning:
        ax.axvspan(*learning, color=LEARNING, lw=0, zorder=0)
        if first:
            ax.text(
                sum(learning) / 2,
                0.04,
                "learning your form",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8.5,
                color=OTHER_CUE,
                style="italic",
            )
    if panel.centre is not None and panel.low is not None and panel.high is not None:
        ax.fill_between(panel.minutes, panel.low, panel.high, color=BASE, alpha=0.13, lw=0)
        ax.plot(panel.minutes, panel.centre, color=BASE, lw=1.3)
        for side, edge in (("above", panel.high), ("below", panel.low)):
            if side in panel.watched:
                ax.plot(panel.minutes, edge, color=BASE, lw=0.9, ls=(0, (4, 3)))
    end = report.end_s
    for ep in panel.episodes:
        stop = (ep.end if ep.end is not None else end) / 60
        ax.axvspan(ep.start / 60, stop, color=DRIFT, alpha=0.22, lw=0, zorder=0)
        ax.text(
            ep.start / 60,
            0.93,
            f" {ep.fault.description}",
            transform=ax.get_xaxis_transform(),
            va="top",
            ha="left",
            fontsize=9,
            color=DRIFT_TEXT,
            weight="bold",
        )
    ax.plot(panel.minutes, panel.values, color=VALUE, lw=0.7, alpha=0.3, zorder=3)
    ax.plot(panel.minutes, smoothed(panel.values), color=VALUE, lw=1.4, zorder=3)
    _cue_marks(ax, report.cues, numbered=first)
    ax.set_ylim(*_limits(panel))
    ax.set_title(panel.title, loc="left", fontsize=11, weight="bold", color=INK)
    ax.set_ylabel("degrees" if panel.unit == "°" else panel.unit)
    ax.grid(axis="y", color="#eceff1", lw=0.8)
    ax.set_axisbelow(True)


def _legend(sub: SubFigure) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color=VALUE, lw=1.5, label="measured (15 s average)"),
        Line2D([], [], color=BASE, lw=1.5, label="your baseline"),
        Patch(color=BASE, alpha=0.2, label="your usual range"),
        Line2D([], [], color=BASE, lw=1, ls=(0, (4, 3)), label="drift starts past this"),
        Patch(color=DRIFT, alpha=0.35, label="drift"),
        Line2D([], [], color=FORM_CUE, marker="v", lw=0, ms=8, label="form cue (numbered)"),
        Line2D([], [], color=OTHER_CUE, marker="^", lw=0, ms=6, label="other cue"),
        Patch(color=STOPPED, alpha=0.6, label="stopped"),
    ]
    sub.legend(
        handles=handles,
        loc="outside upper center",
        ncol=len(handles),
        frameon=False,
        fontsize=9,
        handlelength=1.8,
        columnspacing=1.4,
    )


def _metrics(sub: SubFigure, report: Report) -> list[tuple[str, Axes]]:
    axes = sub.subplots(len(report.panels), 1, sharex=True, squeeze=False)[:, 0]
    stopped = _spans(report)
    for i, (ax, panel) in enumerate(zip(axes, report.panels, strict=True)):
        _metric(ax, panel, report, stopped, first=i == 0)
    axes[-1].set_xlim(0, report.end_s / 60)
    axes[-1].set_xlabel("minutes into the run")
    _legend(sub)
    return [(p.title, ax) for p, ax in zip(report.panels, axes, strict=True)]


def _note(sub: SubFigure, report: Report) -> None:
    run = report.run
    if run.detail_dropped and not report.seconds:
        text = (
            f"The second-by-second detail of this run was dropped on {run.detail_dropped[:10]} "
            "(history.keep_detail_days in the configuration);\nits totals, drifts and cues are "
            "kept, and are in the header and the trends."
        )
    else:
        text = "No metric the drift rules watch was measured in this run."
    sub.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color=OTHER_CUE)


def _key_lines(report: Report, limit: int = 10) -> list[str]:
    form = [c for c in report.cues if c.number is not None]
    none = "None: form held." if not report.episodes else "None."
    lines = [] if form else [none]
    lines += [
        f"{c.number:>2}  {clock(c.t):>5}  “{c.text}”" + (f"  →  {c.answered}" if c.answered else "")
        for c in form[:limit]
    ]
    if len(form) > limit:
        lines.append(f"     … and {len(form) - limit} more (the HTML report lists every cue)")
    others = Counter(c.category for c in report.cues if c.number is None)
    if others:
        said = ", ".join(f"{n} {kind}{'s' * (n > 1)}" for kind, n in others.items())
        lines.append(f"Also said: {said}" + (" (the grey marks)." if report.panels else "."))
    return lines


def _key(sub: SubFigure, lines: list[str]) -> None:
    sub.text(0.01, 0.95, "Form cues said", fontsize=11, weight="bold", va="top", color=INK)
    sub.text(
        0.01,
        0.95 - 0.3 / _key_in(lines),
        "\n".join(lines),
        fontsize=9.5,
        va="top",
        family="DejaVu Sans Mono",
        color=INK,
        linespacing=1.45,
    )


def _key_in(lines: list[str]) -> float:
    return 0.45 + 0.2 * len(lines)


def _boxes(fig: Figure, named: list[tuple[str, Axes]]) -> list[dict[str, Any]]:
    """Each panel's box in the PNG's pixels: left, top, right, bottom."""
    height = fig.bbox.height
    out = []
    for title, ax in named:
        b = ax.get_window_extent()
        box = [round(b.x0), round(height - b.y1), round(b.x1), round(height - b.y0)]
        out.append({"title": title, "box": box})
    return out


def figure_png(report: Report, header: bool = True, dpi: int = 100) -> bytes:
    """The figure as PNG bytes; without the header and the cue key for the HTML page,
    which has them as text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary = textwrap.wrap(report.summary, 140) if header else []
    key = _key_lines(report) if header and report.cues else []
    rows: list[tuple[str, float]] = []
    if header:
        rows.append(("header", _header_in(summary)))
    rows.append(("metrics", 0.7 + PANEL_IN * len(report.panels) if report.panels else 1.0))
    if key:
        rows.append(("key", _key_in(key)))
    rows.append(("trends", TRENDS_IN))
    heights = [h for _, h in rows]
    fig = Figure(figsize=(WIDTH_IN, sum(heights)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.set_facecolor("white")
    subs = fig.subfigures(len(rows), 1, squeeze=False, height_ratios=heights, hspace=0.0)[:, 0]
    named: list[tuple[str, Axes]] = []
    for (row, _), sub in zip(rows, subs, strict=True):
        if row == "header":
            _header(sub, report, summary)
        elif row == "metrics":
            if report.panels:
                named += _metrics(sub, report)
            else:
                _note(sub, report)
        elif row == "key":
            _key(sub, key)
        else:
            from companion.history.report.trends import draw_trends

            named += draw_trends(sub, report)
    fig.draw_without_rendering()  # the layout, so the boxes are where they will be drawn
    fig.set_layout_engine("none")  # and kept: savefig need not lay it out again
    out = io.BytesIO()
    metadata = {
        "Title": f"Run report: {report.run.name}",
        "Description": "Panels: " + "; ".join(title for title, _ in named),
        "Panels": json.dumps(_boxes(fig, named)),
    }
    fig.savefig(out, format="png", dpi=dpi, metadata=metadata)
    return out.getvalue()
