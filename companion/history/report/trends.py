"""The run report's trends across runs: when drift began, and how long form held, for
every run up to the one reported, oldest to newest. Drawn from the runs' totals alone
(the history's `run` table), so a year of runs costs no more than reading one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from companion.form.record import RunInfo
from companion.history.report.colours import BASE, DRIFT, DRIFT_TEXT, INK, OTHER_CUE
from companion.history.report.page import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import SubFigure

    from companion.history.report.page import Floats

FEW = 8  # runs in a trend shown one by one (joined up, dated, their lengths written)
TREND_RUNS = 9  # many runs: their trend as the average of this many around each
ONSET_TITLE = "When drift began, run by run"
HELD_TITLE = "Form held, run by run"


def _dates(ax: Axes, when: Floats, runs: list[RunInfo]) -> None:
    """Dates on the x axis: each run's own when there are few, else months and days."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    if len(runs) <= FEW:
        ax.set_xticks(list(when), [f"{r.started:%a}\n{r.started.day} {r.started:%b}" for r in runs])
    else:
        locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    pad = max(1.0, float(when[-1] - when[0]) / 25)  # days
    ax.set_xlim(float(when[0]) - pad, float(when[-1]) + pad)


def _trend(ax: Axes, title: str, runs: list[RunInfo]) -> tuple[Floats, float] | None:
    """The runs' dates (as matplotlib's day numbers) and a marker size that shrinks as
    a year of runs fills the axis; None when no run was judged."""
    from matplotlib.dates import date2num

    ax.set_title(title, loc="left", fontsize=11, weight="bold", color=INK)
    if not runs:
        ax.text(0.5, 0.5, "no run long enough to judge", ha="center", transform=ax.transAxes)
        return None
    wall = [r.started.replace(tzinfo=None) for r in runs]  # the runner's own clock, then
    when: Floats = date2num(wall)  # type: ignore[no-untyped-call]
    return when, max(2.5, min(9.0, 400 / len(runs)))


def _trend_legend(ax: Axes) -> None:
    """Under the dates: over the panel it would hide runs, beside its title it has no room."""
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        ncol=4,
        fontsize=8.5,
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.2,
    )


def _connect(ax: Axes, xs: list[float], ys: list[float], colour: str) -> None:
    """A few runs joined up; many with the average of the runs around each instead, as a
    line joining a year of runs would only show their scatter."""
    import numpy as np

    if len(xs) <= FEW:
        ax.plot(xs, ys, lw=0.9, color=colour, alpha=0.35, zorder=1)
        return
    half = TREND_RUNS // 2
    average = [float(np.mean(ys[max(0, i - half) : i + half + 1])) for i in range(len(ys))]
    ax.plot(
        xs, average, lw=2, color=colour, alpha=0.8, zorder=3, label=f"average of {TREND_RUNS} runs"
    )


def _this(ax: Axes, x: float, y: float, size: float) -> None:
    ax.plot(
        [x], [y], ls="", marker="o", ms=size + 6, mfc="none", mec=INK, mew=1.6, label="this run"
    )


def _onsets(ax: Axes, report: Report) -> None:
    """Each judged run as a bar as long as the run, with the minute its first drift began;
    runs without drift on a row of their own at the top."""
    runs = [r for r in report.trend if r.judged_s]
    got = _trend(ax, ONSET_TITLE, runs)
    if got is None:
        return
    when, size = got
    lengths = [(r.duration_s or 0.0) / 60 for r in runs]
    longest = max(10.0, *lengths)
    top = longest * 1.22  # the "no drift" row
    ax.vlines(when, 0, lengths, color="#dde3e6", lw=size * 1.8)
    if len(runs) <= FEW:  # few enough to say each run's length on its bar
        for x, length in zip(when, lengths, strict=True):
            ax.text(
                x,
                length,
                f"{length:.0f} min",
                ha="center",
                va="bottom",
                fontsize=8,
                color=OTHER_CUE,
            )
    onset = [
        (x, r.drift_onset_s / 60)
        for x, r in zip(when, runs, strict=True)
        if r.drift_onset_s is not None
    ]
    clean = [x for x, r in zip(when, runs, strict=True) if r.drift_onset_s is None]
    if onset:
        xs, ys = zip(*onset, strict=True)
        _connect(ax, list(xs), list(ys), DRIFT_TEXT)
        ax.plot(xs, ys, ls="", marker="o", ms=size, color=DRIFT, label="first drift")
    if clean:
        ax.plot(clean, [top] * len(clean), ls="", marker="o", ms=size, color=BASE, label="no drift")
    if report.run.judged_s:
        first = report.run.drift_onset_s
        _this(ax, float(when[-1]), top if first is None else first / 60, size)
    ticks = [t for t in ax.yaxis.get_major_locator().tick_values(0, longest) if t <= longest]
    ax.set_yticks([*ticks, top], [*(f"{t:.0f}" for t in ticks), "no drift"])
    ax.axhline(longest * 1.13, color="#b0bec5", lw=0.8, ls=":")
    ax.set_ylim(0, top * 1.07)
    ax.set_ylabel("minute of the run" if len(runs) <= FEW else "minute (grey: the run's length)")
    _trend_legend(ax)
    _dates(ax, when, runs)


def _held(ax: Axes, report: Report) -> None:
    runs = [r for r in report.trend if r.form_held is not None]
    got = _trend(ax, HELD_TITLE, runs)
    if got is None:
        return
    when, size = got
    held = [100 * (r.form_held or 0.0) for r in runs]
    _connect(ax, list(when), held, INK)
    for clean, colour, label in ((False, DRIFT, "with drift"), (True, BASE, "no drift")):
        xs = [x for x, r in zip(when, runs, strict=True) if (r.drift_onset_s is None) == clean]
        ys = [h for h, r in zip(held, runs, strict=True) if (r.drift_onset_s is None) == clean]
        if xs:
            ax.plot(xs, ys, ls="", marker="o", ms=size, color=colour, label=label, zorder=2)
    if runs[-1].id == report.run.id:
        _this(ax, float(when[-1]), held[-1], size)
        ax.annotate(
            f"{held[-1]:.0f}%",
            (float(when[-1]), held[-1]),
            xytext=(0, -18),
            textcoords="offset points",
            ha="center",
            fontsize=9.5,
            color=INK,
            weight="bold",
        )
    ax.set_ylim(0, 109)
    ax.set_yticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100 %"])
    ax.set_ylabel("of the time judged")
    ax.grid(axis="y", color="#eceff1", lw=0.8)
    ax.set_axisbelow(True)
    _trend_legend(ax)
    _dates(ax, when, runs)


def draw_trends(sub: SubFigure, report: Report) -> list[tuple[str, Axes]]:
    """The two trend panels side by side, with their titles."""
    onset, held = sub.subplots(1, 2)
    _onsets(onset, report)
    _held(held, report)
    return [(ONSET_TITLE, onset), (HELD_TITLE, held)]
